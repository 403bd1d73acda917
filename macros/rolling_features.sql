{#-
  featurewarehouse.rolling_features: a feature view of trailing-window aggregates
  per entity, one row per entity and event instant (event-driven: the values as
  of each event of the source).

    {{ featurewarehouse.rolling_features(
        source=ref('stg_transactions'), entity='customer', timestamp='event_ts',
        aggregations=[
            {'agg': 'count', 'name': 'txn_count'},
            {'agg': 'sum', 'column': 'amount_usd', 'name': 'amount_sum'},
            {'agg': 'count_distinct', 'column': 'merchant_id', 'filter': "channel = 'online'"},
        ],
        windows=['1h', '24h', '7d', '30d']) }}

  Edge rule (the PIT TTL rule of DESIGN.md, `ts >= t - d`, both ends inclusive):
  the window `d` of the row at instant t holds the source rows of the same
  entity with `t - d <= ts <= t`; `lifetime` holds every row with `ts <= t`.
  With exclusive=true the rows at t itself are left out (`t - d <= ts < t`).
  Rows of one entity at the same instant are peers: they share one output row
  and see each other (or, exclusive, none of them). Windows never look forward.

  Empty window (or only NULL values): count and count_distinct give 0, every
  other aggregation NULL. `last` is the latest non-NULL value in the window;
  several at that instant: the greatest (decision 0001: values decide ties).

  aggregations: a list of mappings
    agg          count | sum | avg | min | max | stddev (sample) | count_distinct | last
    column       the source column or SQL expression (not for count, where it is optional:
                 count counts rows, or the rows where column is not NULL)
    filter       optional SQL condition on the source row; rows failing it are not aggregated
    name         optional column prefix; default <agg>_<column> (count: count)
    windows      optional, overrides the macro's windows for this aggregation
    data_type    optional result type (count*: bigint, avg/stddev: double; others default double)
    description  optional, `{window}` stands for the window ('24h'); by default one says
                 what is aggregated, over which window, and whether the edges are included
    checks       optional validation checks for every window column, as in config.meta.fw.checks
  Output columns: the entity's join keys, `timestamp`, `passthrough` columns
  (max per instant), then `<name>_<window>` for each aggregation and window.

  Metadata: at parse time the macro records its feature columns (name,
  data_type, description, meta.fw.feature/checks) and the TTL (the longest
  window unless `ttl` is given; none with lifetime) under config.meta.fw_generated,
  and sets unique_key to the keys and timestamp. Readers take a YAML column
  entry over a generated one, and config.meta.fw.ttl over the generated TTL.

  Incremental (materialized='incremental'): source rows with ts >= W, the
  greatest timestamp already built, are new; only their entities are recomputed,
  only at instants >= W, from the source rows since W minus the longest window
  (all of their rows with lifetime). Rows arriving later with ts < W need
  --full-refresh.
-#}
{% macro rolling_features(source, entity, timestamp, aggregations, windows=['1h', '24h', '7d', '30d'],
                          exclusive=false, ttl=none, passthrough=[], where=none) %}
    {{ return(adapter.dispatch('rolling_features', 'featurewarehouse')(
        source, entity, timestamp, aggregations, windows, exclusive, ttl, passthrough, where)) }}
{% endmacro %}


{% macro default__rolling_features(source, entity, timestamp, aggregations, windows, exclusive, ttl, passthrough, where) %}
    {%- set plan = featurewarehouse.fw_rolling_plan(source, entity, timestamp, aggregations, windows, exclusive, ttl, passthrough) -%}
    {%- do featurewarehouse.fw_rolling_record(plan, where) -%}
    {%- set keys = plan['keys'] -%}
    {%- set incremental = is_incremental() -%}
    {%- set lasts = plan['values'] | selectattr('agg', 'equalto', 'last') | list -%}
    {#- count_distinct: a window aggregate where the engine has one, else each instant joins its window -#}
    {%- set windowed = featurewarehouse.fw_rolling_not_windowed() -%}
    {%- set distincts = [] if incremental or 'count_distinct' not in windowed
        else plan['values'] | selectattr('agg', 'equalto', 'count_distinct') | list -%}
    {%- set watermark = '(select max(' ~ timestamp ~ ') from ' ~ this ~ ')' if incremental else none -%}
    {%- set sql -%}
with

-- the aggregated expressions, filters applied: fw_v<i> is NULL where a row does not count
fw_source as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        {{ featurewarehouse.fw_pit_ts(timestamp) }} as fw_ts,
        {%- for c in passthrough %}
        {{ c }} as fw_p{{ loop.index }},
        {%- endfor %}
        {%- for v in plan['values'] %}
        {{ v.expr }} as fw_v{{ v.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source }}
    where {{ featurewarehouse.fw_pit_keys_not_null(keys, '') }}
        and {{ timestamp }} is not null
        {%- if where %}
        and ({{ where }})
        {%- endif %}
        {%- if incremental %}
        -- incremental: the entities with rows at or after the watermark, over the longest window before it
        and ({{ watermark }} is null or (
            ({{ featurewarehouse.fw_pit_list(keys, '') }}) in (
                select {{ featurewarehouse.fw_pit_list(keys, '') }} from {{ source }}
                where {{ featurewarehouse.fw_pit_ts(timestamp) }} >= {{ watermark }})
            {%- if plan.lookback_seconds %}
            and {{ featurewarehouse.fw_pit_ts(timestamp) }} >= {{ featurewarehouse.fw_pit_minus_ttl(watermark, plan.lookback_seconds) }}
            {%- endif %}
        ))
        {%- endif %}
),

{%- if not incremental %}
fw_windows as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        fw_ts,
        {%- for c in passthrough %}
        fw_p{{ loop.index }},
        {%- endfor %}
        {%- for column in featurewarehouse.fw_rolling_window_columns(keys, plan.features, lasts, exclusive) %}
        {{ column }},
        {%- endfor %}
        1 as fw_row
    from fw_source
),

-- one row per entity and instant: same-instant rows are RANGE peers with equal window values
fw_instants as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        fw_ts
        {%- for c in passthrough %},
        max(fw_p{{ loop.index }}) as fw_p{{ loop.index }}
        {%- endfor %}
        {%- for v in lasts %},
        max(fw_last_ts{{ v.index }}) as fw_last_ts{{ v.index }}
        {%- endfor %}
        {%- for f in plan.features if f.agg not in windowed %},
        max({{ f.name }}) as {{ f.name }}
        {%- endfor %}
    from fw_windows
    group by {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_ts
)
{%- else %}
-- incremental: the instants at or after the watermark, the only ones new rows can change
fw_new as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        fw_ts
        {%- for c in passthrough %},
        max(fw_p{{ loop.index }}) as fw_p{{ loop.index }}
        {%- endfor %}
    from fw_source
    where {{ watermark }} is null or fw_ts >= {{ watermark }}
    group by {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_ts
),

-- each new instant joins the rows of its longest window: a few instants cost far less
-- this way than windows over the whole lookback (bench/rolling_build.py)
fw_instants as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_n.') }},
        fw_n.fw_ts
        {%- for c in passthrough %},
        max(fw_n.fw_p{{ loop.index }}) as fw_p{{ loop.index }}
        {%- endfor %}
        {%- for column in featurewarehouse.fw_rolling_join_columns(plan.features, lasts, ('last',)) %},
        {{ column }}
        {%- endfor %}
    from fw_new as fw_n
    left join fw_source as fw_s
        on {% for k in keys %}fw_s.{{ k }} = fw_n.{{ k }} and {% endfor %}fw_s.fw_ts {{ '<' if exclusive else '<=' }} fw_n.fw_ts
        {%- if plan.lookback_seconds %}
        and fw_s.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_n.fw_ts', plan.lookback_seconds) }}
        {%- endif %}
    group by {{ featurewarehouse.fw_pit_list(keys, 'fw_n.') }}, fw_n.fw_ts
)
{%- endif %}
{%- for v in lasts %},

-- the greatest non-NULL value of `last` #{{ v.index }} at each instant
fw_last{{ v.index }} as ({{ featurewarehouse.fw_rolling_last_values(v, keys, 'fw_source') }}
)
{%- endfor %}
{%- for v in distincts %},

-- count_distinct has no window form on every engine: each instant joins the rows of its longest window
fw_distinct{{ v.index }} as ({{ featurewarehouse.fw_rolling_distinct_join(
    v, plan.features | selectattr('index', 'equalto', v.index) | list, keys, 'fw_instants', 'fw_source', exclusive) }}
)
{%- endfor %},

final as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_i.') }},
        fw_i.fw_ts as {{ timestamp }},
        {%- for c in passthrough %}
        fw_i.fw_p{{ loop.index }} as {{ c }},
        {%- endfor %}
        {%- for f in plan.features %}
        {{ featurewarehouse.fw_rolling_value(f, distincts | length > 0) }} as {{ f.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from fw_instants as fw_i
    {{- featurewarehouse.fw_rolling_value_joins(keys, lasts, 'fw_last', distincts, 'fw_distinct') }}
)

select * from final
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
