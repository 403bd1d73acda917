-- "Train on what you served": every labelled transaction that was scored online,
-- with the feature values the server returned for it (from the feature log), not
-- values recomputed afterwards. The time logic is the point-in-time macro's: a
-- transaction at event_ts takes the latest vector served for its (customer,
-- merchant) with served_at in [event_ts, event_ts + window], where the window is
-- served_fraud_features' ttl (both bounds inclusive, as the macro's TTL is).
{%- set window_seconds = 300 %}
{%- if execute %}
    {#- a set inside an if (unlike inside a for) is visible after it -#}
    {%- set window_seconds = featurewarehouse.fw_pit_view_meta('served_fraud_features', 'served_training_set').ttl_seconds %}
    {%- if not window_seconds %}
        {{ exceptions.raise_compiler_error("served_training_set: served_fraud_features needs a ttl (the scoring window, e.g. 5m)") }}
    {%- endif %}
{%- endif %}

with scored_labels as (

    -- the PIT time of a label is the end of its scoring window
    select
        fraud_labels.*,
        fraud_labels.event_ts + interval '{{ window_seconds }} seconds' as scored_by
    from {{ ref('fraud_labels') }} as fraud_labels

),

served as (

    {{ featurewarehouse.point_in_time_join(
        spine='scored_labels',
        spine_timestamp='scored_by',
        feature_service='fraud_model_served',
        full_feature_names=false,
    ) }}

),

final as (

    -- labelled transactions that were never scored online have nothing served to train on
    select * from served
    where served_request_id is not null

)

select * from final
