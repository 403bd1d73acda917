-- "Train on what you served": every labelled transaction that was scored online,
-- with the feature values the server returned for it (from the feature log), not
-- values recomputed afterwards. The time logic is the point-in-time macro's: a
-- transaction at event_ts takes the latest vector served for its (customer,
-- merchant) with served_at in [event_ts, event_ts + window], where the window is
-- served_fraud_features' ttl (both bounds inclusive, as the macro's TTL is).
{%- set window_seconds = 300 %}
{%- if execute %}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == 'served_fraud_features' %}
        {%- set ttl = (((node.config or {}).get('meta') or {}).get('fw') or {}).get('ttl') | string %}
        {%- set m = modules.re.match('^ *([0-9]+) *(s|m|h|d|w) *$', ttl) %}
        {%- if not m %}
            {{ exceptions.raise_compiler_error("served_training_set: served_fraud_features needs a ttl (the scoring window, e.g. 5m), got '" ~ ttl ~ "'") }}
        {%- endif %}
        {%- set window_seconds = (m.group(1) | int) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[m.group(2)] %}
    {%- endfor %}
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
        features=['served_fraud_features:*'],
        full_feature_names=false,
    ) }}

),

final as (

    -- labelled transactions that were never scored online have nothing served to train on
    select * from served
    where served_request_id is not null

)

select * from final
