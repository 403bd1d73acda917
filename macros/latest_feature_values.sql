{#-
  featurewarehouse.latest_feature_values: the point-in-time value of every key of
  one feature view at `as_of` (default: now, UTC). The online sync materializes it.

    {{ featurewarehouse.latest_feature_values(view='customer_spend_features', as_of=none) }}

  Same rules as point_in_time_join with t = as_of: candidates have ts <= as_of,
  available_timestamp <= as_of (when declared) and ts >= as_of - ttl (when set:
  rows past the TTL are excluded, so a key whose newest row is too old is absent);
  the greatest ts wins, then created_timestamp, then decision 0001. Keys with a
  NULL column are never returned.

  Columns: the join keys, the view's timestamp column, its created_timestamp
  column (when declared), then every feature in declared order, all under their
  own names. `as_of` is none (now), a literal like '2024-05-01 12:00:00', or a
  SQL expression yielding a timestamp.
-#}
{% macro latest_feature_values(view, as_of=none) %}
    {{ return(adapter.dispatch('latest_feature_values', 'featurewarehouse')(view, as_of)) }}
{% endmacro %}


{% macro default__latest_feature_values(view, as_of=none) %}
    {%- if view is not string or view.strip() == '' -%}
        {{ featurewarehouse.fw_pit_fail('latest_feature_values', "view must name a feature view, got " ~ view,
            "pass e.g. view='customer_spend_features'") }}
    {%- endif -%}
    {%- if not execute -%}
        {%- do featurewarehouse.fw_pit_parse_ref(view, 'latest_feature_values') -%}
        {{ return('select 1 as fw_parse_placeholder') }}
    {%- endif -%}
    {%- set v = featurewarehouse.fw_pit_view_meta(view, 'latest_feature_values') -%}
    {%- set keys = v['keys'] -%}
    {%- set t = featurewarehouse.fw_pit_as_of_expr(as_of) -%}
    {%- set ts = featurewarehouse.fw_pit_ts('fw_src.' ~ v.timestamp) -%}
    {%- set columns = (keys + [v.timestamp] + ([v.created] if v.created else []) + (v.features | map(attribute="name") | list)) | unique | list -%}
    {%- set sql -%}
with

fw_as_of as (
    select {{ t }} as fw_t
),

-- candidates at as_of, numbered per key best first (ts, created, then the tie-break of decision 0001)
fw_candidates as (
    select
        {{ featurewarehouse.fw_pit_list(columns, 'fw_src.') }},
        row_number() over (
            partition by {{ featurewarehouse.fw_pit_list(keys, 'fw_src.') }}
            order by {{ featurewarehouse.fw_pit_preference(v, 'fw_src.', ts, true) }}
        ) as fw_pick
    from {{ v.relation }} as fw_src
    cross join fw_as_of
    where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_src.') }}
        and {{ ts }} <= fw_as_of.fw_t
        {%- if v.available %}
        and {{ featurewarehouse.fw_pit_ts('fw_src.' ~ v.available) }} <= fw_as_of.fw_t
        {%- endif %}
        {%- if v.ttl_seconds %}
        and {{ ts }} >= {{ featurewarehouse.fw_pit_minus_ttl('fw_as_of.fw_t', v.ttl_seconds) }}
        {%- endif %}
),

final as (
    select {{ featurewarehouse.fw_pit_list(columns, '') }}
    from fw_candidates
    where fw_pick = 1
)

select * from final
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
