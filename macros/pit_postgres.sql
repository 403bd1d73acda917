{#-
  PostgreSQL body of featurewarehouse.point_in_time_join: the same answers as
  the portable default__ body (the property tests run both against the
  reference), in the shape PostgreSQL runs best (bench/pit_postgres.py,
  docs/performance-pit.md).

  Per view with a TTL, each distinct (keys, t) of the spine is range-joined to
  the view's rows that are candidates for it -- same keys, t - ttl <= ts <= t
  and, with an available_timestamp, available <= t -- and DISTINCT ON (keys, t)
  keeps the first row in the preference order of decision 0001 (ts, created,
  then every feature, descending, NULLs last, text by code point). A window
  holds only the rows of one TTL, so the join is bounded; this is the
  hand-written range join + DISTINCT ON of the benchmark, on the distinct
  lookups instead of every spine row.

  The range join's cost grows with the rows per window, so a view with a TTL
  takes it only where fw_pit_formulation's statistics (macros/pit_formulation.sql)
  find the pairs few (or outside execution, with no statistics); otherwise, and
  for a view without a TTL (unbounded windows: every older row of the key), the
  portable running max over a timeline (fw_pit_timeline_ctes), which costs a
  sort whatever the data holds. vars.fw_pit_formulation 'asof' forces the
  timeline, 'range' the join.

  The spine is left-joined to each view's answers on (keys, t), as in the
  portable body: one answer per distinct (keys, t), never a spine row more or
  less, and NULL keys or times find no answer.
-#}
{% macro postgres__point_in_time_join(spine, spine_timestamp, features, full_feature_names=false) %}
    {%- set plan = featurewarehouse.fw_pit_plan(spine, spine_timestamp, features, full_feature_names, 'point_in_time_join') -%}
    {%- if plan is none -%}{{ return('select 1 as fw_parse_placeholder') }}{%- endif -%}
    {%- set t = featurewarehouse.fw_pit_ts('fw_spine.' ~ spine_timestamp) -%}
    {#- fw_spine is inlined at every use: a CTE read more than once is otherwise materialized, and a
        plan that reads one runs without parallel workers (about 1.5x the wall time on 2 cores); a
        spine query with volatile functions stays materialized (PostgreSQL never inlines those). -#}
    {%- set sql -%}
with

fw_spine as not materialized (
    select * from {{ spine }}
),
{%- for v in plan.views %}
{%- set p = 'fw_v' ~ loop.index %}
{%- do v.update({'formulation': featurewarehouse.fw_pit_formulation(v, spine, eligible=true, unknown='range')}) %}
{%- if v.formulation == 'range' %}
{{ featurewarehouse.fw_pit_range_ctes(v, p, t, spine_timestamp) }},
{%- else %}
{{ featurewarehouse.fw_pit_timeline_ctes(v, p, t, spine_timestamp) }},
{%- endif %}
{{- featurewarehouse.fw_rolling_pit_ctes(v, p, t) }}
{%- endfor %}

{{ featurewarehouse.fw_pit_answers_final(plan, t, spine_timestamp) }}

select * from final
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  One view with a TTL as a range join: the CTE <p>_answers, one row per
  distinct (keys, spine timestamp) of the spine that has a candidate (the
  others get NULL features from the final left join, which matches the spine's
  timestamp column as it is: no conversion per spine row). Every spine row is joined: DISTINCT ON
  collapses repeated (keys, t), which costs less than a DISTINCT before the
  join (a hash aggregate of the spine per view; docs/performance-pit.md). The
  spine's time, and a view timestamp that needs a conversion (timestamptz:
  fw_pit_view_ts), are converted once per row in subqueries the planner cannot
  pull up (`offset 0`), not once per joined pair.
-#}
{% macro fw_pit_range_ctes(v, p, t, spine_timestamp) %}
    {%- set keys = v['keys'] -%}
    {%- set ts = featurewarehouse.fw_pit_view_ts(v, v.timestamp) -%}
    {%- set avail = featurewarehouse.fw_pit_view_ts(v, v.available) if v.available else none -%}
    {%- set raw = ts == 'fw_src.' ~ v.timestamp and (avail is none or avail == 'fw_src.' ~ v.available) -%}
    {#- the found row's time, for window features (rolling_pit.sql): as the join below names it -#}
    {%- set row_ts = ts if raw else 'fw_src.fw_ts' -%}
    {%- set sql %}
-- {{ v.name }}: per (keys, t) of the spine, the best candidate row (ttl {{ v.ttl_seconds }}s, inclusive), in the order of decision 0001
{{ p }}_answers as (
    select distinct on ({{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }}, fw_l.fw_spine_t)
        {{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }},
        fw_l.fw_spine_t,
        {{ row_ts }} as fw_row_ts
        {%- for f in v.selected %},
        fw_src.{{ f.name }}
        {%- endfor %}
    from (
        select {{ featurewarehouse.fw_pit_list(keys, 'fw_spine.') }}, fw_spine.{{ spine_timestamp }} as fw_spine_t, {{ t }} as fw_t
        from fw_spine
        offset 0
    ) as fw_l
    {%- if raw %}
    join {{ v.relation }} as fw_src
    {%- else %}
    join (
        select fw_src.*, {{ ts }} as fw_ts{% if avail %}, {{ avail }} as fw_available{% endif %}
        from {{ v.relation }} as fw_src
        offset 0
    ) as fw_src
    {%- set ts = 'fw_src.fw_ts' %}
    {%- set avail = 'fw_src.fw_available' if avail else none %}
    {%- endif %}
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_l.', 'fw_src.') }}
        and {{ ts }} <= fw_l.fw_t
        and {{ ts }} >= {{ featurewarehouse.fw_pit_minus_ttl('fw_l.fw_t', v.ttl_seconds) }}
        {%- if avail %}
        and {{ avail }} <= fw_l.fw_t
        {%- endif %}
    order by {{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }}, fw_l.fw_spine_t,
        {{ featurewarehouse.fw_pit_preference(v, 'fw_src.', ts, true) }}
)
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
