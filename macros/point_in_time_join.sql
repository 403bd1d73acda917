{#-
  featurewarehouse.point_in_time_join: a training set without leakage.

    {{ featurewarehouse.point_in_time_join(
         spine=ref('fraud_labels'), spine_timestamp='event_ts',
         features=['customer_spend_features:*', 'merchant_risk_features:chargeback_rate_90d'],
         full_feature_names=false) }}

  or, with the list declared once as a feature service (vars.fw.feature_services):

    {{ featurewarehouse.point_in_time_join(
         spine=ref('fraud_labels'), spine_timestamp='event_ts', feature_service='fraud_model') }}

  A training set names its service in its YAML too (config.meta.fw.feature_service)
  so the registry knows its features; the two must agree (checked here).

  Renders a complete SELECT: every spine column, then one column per feature
  (`<feature>`, or `<view>__<feature>` with full_feature_names=true). The spine
  carries each view's join keys under the entity's join-key names. For every
  spine row (keys k, time t) and view V it takes the row of V with keys = k,
  ts <= t, ts >= t - ttl (when V has a ttl) and available_timestamp <= t (when
  V declares one); the greatest ts wins, then the greatest created_timestamp,
  then docs/decisions/0001-pit-tie-break.md. No candidate: NULL features. The
  output has exactly the spine's rows (see the README, "Point-in-time joins").
-#}
{% macro point_in_time_join(spine, spine_timestamp, features=none, full_feature_names=false, feature_service=none) %}
    {#- a feature service becomes its features list here, before dispatch: the bodies take a list -#}
    {%- set features = featurewarehouse.fw_pit_features_arg(features, feature_service, 'point_in_time_join') -%}
    {{ return(adapter.dispatch('point_in_time_join', 'featurewarehouse')(
        spine, spine_timestamp, features, full_feature_names)) }}
{% endmacro %}


{#-
  Portable body (no range join, no ASOF, no DISTINCT ON): per view, the running
  max of a preference rank over a timeline of rows and lookups
  (fw_pit_timeline_ctes in pit_sql.sql). The spine is finally left-joined to
  each view's answers on (keys, t): one answer per distinct (keys, t), so spine
  rows are never multiplied or dropped, and NULL keys find no answer.
-#}
{% macro default__point_in_time_join(spine, spine_timestamp, features, full_feature_names=false) %}
    {%- set plan = featurewarehouse.fw_pit_plan(spine, spine_timestamp, features, full_feature_names, 'point_in_time_join') -%}
    {%- if plan is none -%}{{ return('select 1 as fw_parse_placeholder') }}{%- endif -%}
    {%- set t = featurewarehouse.fw_pit_ts('fw_spine.' ~ spine_timestamp) -%}
    {%- set sql -%}
with

fw_spine as (
    select * from {{ spine }}
),
{%- for v in plan.views %}
{%- set p = 'fw_v' ~ loop.index %}
{{ featurewarehouse.fw_pit_timeline_ctes(v, p, t, spine_timestamp) }},
{{- featurewarehouse.fw_rolling_pit_ctes(v, p, t) }}
{%- endfor %}

{{ featurewarehouse.fw_pit_answers_final(plan, t) }}

select * from final
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  DuckDB: ASOF JOIN. Figures, settings and the formulations measured against it:
  docs/performance-pit.md (bench/pit_join.py, bench/historical.py). On Feast-shaped
  data (1M rows per view, tz-aware) it costs 1.0-1.2x the CPU of the fastest
  hand-written query; the portable body costs about 2x.

  Per view, the rows are reduced to one per (keys, ts) -- the best by created,
  then decision 0001 -- and the spine is ASOF-joined on keys and ts <= t, which
  keeps every spine row exactly once (ASOF finds at most one row) with no
  lookup/join-back step. The TTL is checked on the found row. With an
  available_timestamp the best row is no longer the latest visible one, so the
  rows are ranked in preference order, a running max of the rank is kept in
  visibility order (one step per (keys, visible_at)), the ASOF join finds the
  step in force at t, and the row of that rank is joined back.

  Each view reads only rows inside the spine's time range (minus the TTL): a
  training set over the last month of a year of data sorts a twelfth of it.

  A view with a TTL and no available_timestamp may instead take a bucketed
  range join (macros/pit_duckdb_range.sql), chosen per view from statistics at
  compile time (vars.fw_pit_formulation overrides): its answers, one per
  (keys, t), are left-joined on (keys, t).
  Not adopted, measured slower or not exact: ASOF on (ts, created) packed in one
  HUGEINT with the feature tie-break only for rows that tie on (keys, ts,
  created) (1.3x this body's CPU: the tie detection costs more than the
  dedupe it saves); arg_max over a struct of the preference per (keys, ts)
  (1.03x, measured before the timestamp change of fw_pit_ts).
  DuckDB's optimizer turns a one-key `row_number() = 1` into a hash aggregate,
  but not this many-key order, so the per-(keys, ts) window stays the main cost.
-#}
{% macro duckdb__point_in_time_join(spine, spine_timestamp, features, full_feature_names=false) %}
    {%- set plan = featurewarehouse.fw_pit_plan(spine, spine_timestamp, features, full_feature_names, 'point_in_time_join') -%}
    {%- if plan is none -%}{{ return('select 1 as fw_parse_placeholder') }}{%- endif -%}
    {#- the spine's time, normalized once: it is read by every view's join, guard and pre-filter -#}
    {%- set t = 'fw_spine.__fw_pit_t' -%}
    {%- set sql -%}
with

fw_spine as (
    select *, {{ featurewarehouse.fw_pit_ts(spine_timestamp) }} as __fw_pit_t from {{ spine }}
),
{%- for v in plan.views %}
{%- set p = 'fw_v' ~ loop.index %}
{%- set keys = v['keys'] %}
{%- set ts = featurewarehouse.fw_pit_view_ts(v, v.timestamp) %}
{%- do featurewarehouse.fw_rolling_pit_meta(v) %}{#- a rolling view's metadata errors come before the statistics query -#}
{%- do v.update({'formulation': featurewarehouse.fw_pit_duckdb_formulation(v, spine)}) %}
{%- if v.formulation == 'range' %}
{{ featurewarehouse.fw_pit_duckdb_range_cte(v, p, ts, t) }},
{%- elif not v.available %}

-- {{ v.name }}: the best row per (keys, ts): created, then the tie-break of decision 0001
{{ p }}_rows as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_src.') }},
        {{ ts }} as fw_ts
        {%- for f in v.selected %},
        fw_src.{{ f.name }}
        {%- endfor %}
    from {{ v.relation }} as fw_src
    where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_src.') }} and fw_src.{{ v.timestamp }} is not null
        -- only rows some spine row can take (the spine's time range, minus the ttl)
        and {{ featurewarehouse.fw_pit_spine_range_filter(v, ts, ts, t) }}
    qualify row_number() over (
        partition by {{ featurewarehouse.fw_pit_list(keys, 'fw_src.') }}, {{ ts }}
        order by {{ featurewarehouse.fw_pit_preference(v, 'fw_src.', ts, true) }}
    ) = 1
),
{%- else %}

-- {{ v.name }}: rows ranked per key, best last (ts, created, then the tie-break of decision 0001)
{%- set visible_at = 'greatest(' ~ ts ~ ', ' ~ featurewarehouse.fw_pit_view_ts(v, v.available) ~ ')' %}
{{ p }}_rows as ({{ featurewarehouse.fw_pit_ranked_rows(v, visible_at,
                    featurewarehouse.fw_pit_spine_range_filter(v, ts, visible_at, t)) }}
),

-- {{ v.name }}: the best rank visible from each instant on (a running max in visibility order)
{{ p }}_steps as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        fw_visible_at,
        max(max(fw_rank)) over (
            partition by {{ featurewarehouse.fw_pit_list(keys, '') }}
            order by fw_visible_at
            rows between unbounded preceding and current row
        ) as fw_best
    from {{ p }}_rows
    group by {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_visible_at
),
{%- endif %}
{{- featurewarehouse.fw_rolling_pit_ctes(v, p, t) }}
{%- endfor %}

final as (
    select
        fw_spine.* exclude (__fw_pit_t)
        {%- for v in plan.views %}
        {%- set p = 'fw_v' ~ loop.index %}
        {#- The NULL guards are not redundant: DuckDB 1.5.6's ASOF join was seen to match a spine row whose
            time is NULL (tests/dbt/test_pit_properties.py found it; not reproducible on a fresh table). -#}
        {%- set guard = featurewarehouse.fw_pit_keys_not_null(v['keys'], 'fw_spine.') ~ ' and ' ~ t ~ ' is not null' %}
        {%- if v.formulation == 'range' %}
        {%- set guard = 'true' %}
        {%- elif v.ttl_seconds and not v.available %}
        {%- set guard = guard ~ ' and ' ~ p ~ '.fw_ts >= ' ~ featurewarehouse.fw_pit_minus_ttl(t, v.ttl_seconds) %}
        {%- endif %}
        {%- for f in v.selected %},
        {%- set value = featurewarehouse.fw_rolling_pit_value(v, p, f, p ~ '.fw_ts', t) %}
        {% if guard == 'true' %}{{ value }}{% else %}case when {{ guard }} then {{ value }} end{% endif %} as {{ f.output }}
        {%- endfor %}
        {%- endfor %}
    from fw_spine
    {%- for v in plan.views %}
    {%- set p = 'fw_v' ~ loop.index %}
    {%- if v.formulation == 'range' %}
    left join {{ p }}_answers as {{ p }}
        on {{ featurewarehouse.fw_pit_keys_equal(v['keys'], 'fw_spine.', p ~ '.') }}
        and {{ t }} = {{ p }}.fw_t
    {%- elif not v.available %}
    asof left join {{ p }}_rows as {{ p }}
        on {{ featurewarehouse.fw_pit_keys_equal(v['keys'], 'fw_spine.', p ~ '.') }}
        and {{ t }} >= {{ p }}.fw_ts
    {%- else %}
    asof left join {{ p }}_steps as {{ p }}_step
        on {{ featurewarehouse.fw_pit_keys_equal(v['keys'], 'fw_spine.', p ~ '_step.') }}
        and {{ t }} >= {{ p }}_step.fw_visible_at
    left join {{ p }}_rows as {{ p }}
        on {{ featurewarehouse.fw_pit_keys_equal(v['keys'], 'fw_spine.', p ~ '.') }}
        and {{ p }}.fw_rank = {{ p }}_step.fw_best
        {%- if v.ttl_seconds %}
        and {{ p }}.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl(t, v.ttl_seconds) }}
        {%- endif %}
    {%- endif %}
    {{- featurewarehouse.fw_rolling_pit_join(v, p, t) }}
    {%- endfor %}
)

select * from final
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
