{#-
  Which formulation a view with a TTL gets, chosen per view from cheap
  statistics at compile time (DuckDB: pit_duckdb_range.sql; PostgreSQL:
  pit_postgres.sql; figures in docs/performance-pit.md).

  `range` joins each spine row to the view's rows of its keys in [t - ttl, t]:
  its cost grows with the pairs it compares -- spine rows x rows per window --
  so it is taken only when the pairs are few:

    spine rows x 2 x (rows per (keys, bucket), weighted by rows) <= 4 x view rows

  where a bucket is floor(ts / ttl) (a window spans at most two) and the
  weighting counts a hot key as often as its rows appear. Otherwise `asof`: the
  sort-based formulation, whose cost does not grow with the rows per window
  (DuckDB's ASOF join; on PostgreSQL, which has no ASOF join, the portable
  running max over a timeline). The statistics need the spine's size: counted
  for a relation (a dbt model); for a spine given as SQL text, taken from
  vars.fw_pit_spine_rows (fwctl passes a bound of a pandas, Arrow or Parquet
  spine's rows), else assumed to be the view's (a training set about as large
  as its views: the rule then takes the range join while windows hold about
  two rows or fewer, and so still turns away from crowded windows). Outside
  execution, or for a view given as SQL text, the engine's `unknown` choice
  stands. The query runs only when dbt executes, once per view: a group by over
  the view's keys and buckets.

  vars.fw_pit_formulation overrides the choice for every eligible view:
  'auto' (the default), 'asof' or 'range'. The property tests run both.
-#}
{% macro fw_pit_formulation(v, spine, eligible, unknown) %}
    {%- set choice = var('fw_pit_formulation', 'auto') -%}
    {%- if choice not in ('auto', 'asof', 'range') -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join',
            "vars.fw_pit_formulation is '" ~ choice ~ "'",
            "set it to 'auto' (chosen per view from statistics), 'asof' or 'range', or remove it") }}
    {%- endif -%}
    {%- set spine_rows = var('fw_pit_spine_rows', none) -%}
    {%- if spine_rows is not none and (spine_rows is not number or spine_rows < 0) -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join',
            "vars.fw_pit_spine_rows is '" ~ spine_rows ~ "'",
            "set it to the spine's row count (a whole number), or remove it") }}
    {%- endif -%}
    {%- if not v.ttl_seconds or not eligible -%}{{ return('asof') }}{%- endif -%}
    {%- if choice != 'auto' -%}{{ return(choice) }}{%- endif -%}
    {%- if not execute or v.relation is string -%}{{ return(unknown) }}{%- endif -%}
    {%- set ts = featurewarehouse.fw_pit_view_ts(v, v.timestamp) -%}
    {%- set stats_sql -%}
        select
            {{ ('(select count(*) from ' ~ spine ~ ')') if spine is not string
               else (spine_rows if spine_rows is not none else 'coalesce(sum(fw_c), 0)') }} as spine_rows,
            coalesce(sum(fw_c), 0) as view_rows,
            coalesce(sum(fw_c * fw_c), 0) as weighted
        from (
            select count(*) as fw_c
            from {{ v.relation }} as fw_src
            where {{ featurewarehouse.fw_pit_keys_not_null(v['keys'], 'fw_src.') }} and fw_src.{{ v.timestamp }} is not null
            group by {{ featurewarehouse.fw_pit_list(v['keys'], 'fw_src.') }}, {{ featurewarehouse.fw_pit_bucket(ts, v.ttl_seconds) }}
        ) as fw_buckets
    {%- endset -%}
    {%- set row = run_query(stats_sql).rows[0] -%}
    {#- weighted / view_rows = rows per (keys, bucket), weighted by rows; no rows: nothing to sort either way -#}
    {%- if row[1] == 0 or row[0] * 2 * row[2] <= 4 * row[1] * row[1] -%}{{ return('range') }}{%- endif -%}
    {{ return('asof') }}
{% endmacro %}


{#- floor(ts / ttl): the bucket of a timestamp; an infinite one goes to bucket 0. -#}
{% macro fw_pit_bucket(ts, ttl_seconds) %}
    {{ return(adapter.dispatch('fw_pit_bucket', 'featurewarehouse')(ts, ttl_seconds)) }}
{% endmacro %}

{#- in epoch microseconds, as an integer (DuckDB's range formulation joins on it) -#}
{% macro duckdb__fw_pit_bucket(ts, ttl_seconds) %}
    {{ return('coalesce(epoch_us(' ~ ts ~ ') // ' ~ (ttl_seconds * 1000000) ~ ', 0)') }}
{% endmacro %}

{#- only counted (the statistics), by any other engine: seconds since the epoch (dbt resolves
    every dispatch when it parses, so each one needs a default) -#}
{% macro default__fw_pit_bucket(ts, ttl_seconds) %}
    {{ return('floor(' ~ featurewarehouse.fw_seconds_between("cast('1970-01-01' as timestamp)", ts) | trim ~ ' / ' ~ ttl_seconds ~ ')') }}
{% endmacro %}

{#- only counted (the statistics): epoch seconds; +-infinity has no finite bucket -#}
{% macro postgres__fw_pit_bucket(ts, ttl_seconds) %}
    {{ return("case when isfinite(" ~ ts ~ ") then floor(extract(epoch from " ~ ts ~ ") / " ~ ttl_seconds ~ ") else 0 end") }}
{% endmacro %}
