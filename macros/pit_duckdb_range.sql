{#-
  DuckDB: a second formulation for views with a TTL (and no available_timestamp),
  chosen per view from cheap statistics at compile time. Figures:
  docs/performance-pit.md (bench/pit_join.py, bench/pit_feast.py).

  `range`: every spine row is joined to the view's rows of its keys whose ts lies
  in [t - ttl, t], and the best one per (keys, t) is kept in the order of decision
  0001 (`qualify row_number()`). Both sides carry a bucket number, floor(ts / ttl):
  a row inside [t - ttl, t] lies in t's bucket or the one before, so the join is
  an equi-join on (keys, bucket) -- each spine row is tried against about two
  windows of rows, never the key's whole history. The comparisons on ts do the
  exact filtering; the bucket only narrows (an infinite timestamp has no epoch
  and goes to bucket 0, where the comparisons decide as before).

  No spine-range pre-filter here (fw_pit_spine_range_filter): the buckets
  already keep the work per spine row to its windows, and with the filter the
  range formulation took 1.5x the CPU and 1.4x the memory at 10M rows per view
  (docs/performance-pit.md).

  It skips the per-(keys, ts) dedupe of every view row, the ASOF body's main
  cost, and holds no sorted copy of the view: on Feast-shaped data with windows
  of 1-10 rows it took 0.7-0.8x the CPU and about half the memory of the ASOF
  formulation. Its cost grows with the pairs it compares -- spine rows x rows per
  window -- where the ASOF formulation's does not: with 80 rows per window it
  took 46x longer. So it is taken only when the pairs are few:

    spine rows x 2 x (rows per (keys, bucket), weighted by rows) <= 4 x view rows

  (the weighting counts a hot key as often as its rows appear): the rule and its
  statistics are fw_pit_formulation's (macros/pit_formulation.sql), shared with
  the postgres__ body (a spine given as SQL text, fwctl's staged spine, is
  sized by vars.fw_pit_spine_rows or assumed as large as the view).
-#}
{% macro fw_pit_duckdb_formulation(v, spine) %}
    {#- the range formulation has no available_timestamp condition: those views take ASOF -#}
    {{ return(featurewarehouse.fw_pit_formulation(v, spine, eligible=not v.available, unknown='asof')) }}
{% endmacro %}


{#-
  The CTE <p>_answers of a `range` view: one row per (keys, t) of the spine that
  has a candidate, with fw_t, the found row's fw_ts and the selected features; the body left-joins it
  on (keys, t). `ts` is the view's timestamp (fw_pit_view_ts), `t` the spine's
  normalized time over fw_spine.
-#}
{% macro fw_pit_duckdb_range_cte(v, p, ts, t) %}
    {%- set keys = v['keys'] -%}
    {%- set by = featurewarehouse.fw_pit_list(keys, 'fw_l.') ~ ', fw_l.fw_t' -%}
    {%- set sql %}
-- {{ v.name }}: per (keys, t) of the spine, the best row with t - ttl <= ts <= t (ttl {{ v.ttl_seconds }}s), in the order of decision 0001
{{ p }}_answers as (
    {%- if v.features %}
    select * from (
    {%- endif %}
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }},
        fw_l.fw_t,
        fw_r.fw_ts
        {%- for f in v.features %},
        fw_r.{{ f.name }}
        {%- endfor %}
    from (
        select {{ featurewarehouse.fw_pit_list(keys, 'fw_spine.') }}, {{ t }} as fw_t,
            {{ featurewarehouse.fw_pit_bucket(t, v.ttl_seconds) }} + fw_d.fw_back as fw_bucket
        from fw_spine, (values (0), (-1)) as fw_d(fw_back)
        where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_spine.') }} and {{ t }} is not null
    ) as fw_l
    join (
        select fw_src.*, {{ ts }} as fw_ts, {{ featurewarehouse.fw_pit_bucket(ts, v.ttl_seconds) }} as fw_bucket
        from {{ v.relation }} as fw_src
        where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_src.') }} and fw_src.{{ v.timestamp }} is not null
    ) as fw_r
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_l.', 'fw_r.') }}
        and fw_l.fw_bucket = fw_r.fw_bucket
        and fw_r.fw_ts <= fw_l.fw_t
        and fw_r.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_l.fw_t', v.ttl_seconds) }}
    {%- if v.features %}
    -- the best (ts, created) per (keys, t), its ties kept: sorting every pair by (ts, created) only
    -- and the few tied ones by every feature took 0.89x the time of one sort by all of them
    qualify rank() over (partition by {{ by }} order by {{ featurewarehouse.fw_pit_time_preference(v, 'fw_r.', 'fw_r.fw_ts', true) }}) = 1
    ) as fw_top
    qualify row_number() over (
        partition by {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_t
        order by {{ featurewarehouse.fw_pit_feature_preference(v, '', true) }}
    ) = 1
    {%- else %}
    qualify row_number() over (partition by {{ by }} order by {{ featurewarehouse.fw_pit_time_preference(v, 'fw_r.', 'fw_r.fw_ts', true) }}) = 1
    {%- endif %}
)
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
