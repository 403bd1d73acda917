{#-
  DuckDB: a second formulation for views with a TTL (and no available_timestamp),
  chosen per view from cheap statistics at compile time. Figures:
  docs/performance-pit.md (bench/pit_join.py, bench/pit_feast.py).

  `range`: every spine row is joined to the view's rows of its keys whose ts lies
  in [t - ttl, t], and the best one per (keys, t) is kept in the order of decision
  0001 (fw_pit_duckdb_range_cte below: two steps). Both sides carry a bucket number, floor(ts / ttl):
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
  The CTEs of a `range` view, ending in <p>_answers: one row per (keys, t) of the
  spine that has a candidate, with fw_t, the found row's fw_ts and the view's
  features; the body left-joins it on (keys, t). `ts` is the view's timestamp
  (fw_pit_view_ts), `t` the spine's normalized time over fw_spine.

  In two steps, neither of which sorts the pairs (spine rows x rows per window:
  about 7.6 per spine row at 10M rows per view on Feast's data). <p>_best: the
  latest ts per (keys, t), a hash aggregate over pairs that carry only keys and
  ts. <p>_answers: the view's rows at that (keys, ts), read back by an
  equi-join on the normalized ts (a TIMESTAMP_NS column's rows within one
  microsecond tie, as in the ASOF formulation), the best of them by created
  and then every feature (decision 0001; one row for most keys). Against one
  sort of the pairs with their features (rank by (ts, created), then
  row_number by the features) it took 0.6-0.7x the time and 0.78x the peak
  memory at 10M rows per view, about the same time at 1M
  (docs/performance-pit.md). The view is scanned twice.
-#}
{% macro fw_pit_duckdb_range_cte(v, p, ts, t) %}
    {%- set keys = v['keys'] -%}
    {%- set sql %}
-- {{ v.name }}: per (keys, t) of the spine, the best ts: the latest with t - ttl <= ts <= t (ttl {{ v.ttl_seconds }}s)
{{ p }}_{{ 'best' if v.features else 'answers' }} as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }},
        fw_l.fw_t,
        max(fw_r.fw_ts) as fw_ts
    from (
        select {{ featurewarehouse.fw_pit_list(keys, 'fw_spine.') }}, {{ t }} as fw_t,
            {{ featurewarehouse.fw_pit_bucket(t, v.ttl_seconds) }} + fw_d.fw_back as fw_bucket
        from fw_spine, (values (0), (-1)) as fw_d(fw_back)
        where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_spine.') }} and {{ t }} is not null
    ) as fw_l
    join (
        select
            {{ featurewarehouse.fw_pit_list(keys, 'fw_src.') }},
            {{ ts }} as fw_ts,
            {{ featurewarehouse.fw_pit_bucket(ts, v.ttl_seconds) }} as fw_bucket
        from {{ v.relation }} as fw_src
        where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_src.') }} and fw_src.{{ v.timestamp }} is not null
    ) as fw_r
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_l.', 'fw_r.') }}
        and fw_l.fw_bucket = fw_r.fw_bucket
        and fw_r.fw_ts <= fw_l.fw_t
        and fw_r.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_l.fw_t', v.ttl_seconds) }}
    group by {{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }}, fw_l.fw_t
)
    {%- if v.features %},

-- {{ v.name }}: the view's rows at that (keys, ts), the best of them in the order of decision 0001
{{ p }}_answers as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_b.') }},
        fw_b.fw_t,
        fw_b.fw_ts
        {%- for f in v.features %},
        fw_src.{{ f.name }}
        {%- endfor %}
    from {{ p }}_best as fw_b
    join {{ v.relation }} as fw_src
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_src.', 'fw_b.') }}
        and {{ ts }} = fw_b.fw_ts
    qualify row_number() over (
        partition by {{ featurewarehouse.fw_pit_list(keys, 'fw_b.') }}, fw_b.fw_t
        order by {{ featurewarehouse.fw_pit_preference(v, 'fw_src.', 'fw_b.fw_ts', true) }}
    ) = 1
)
    {%- endif %}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
