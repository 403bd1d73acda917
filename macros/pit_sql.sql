{#-
  SQL fragments shared by the point-in-time macros. Internal.

  Preference order among candidate rows of one key (docs/decisions/0001-pit-tie-break.md):
  greatest timestamp, then greatest created_timestamp (NULL lowest), then the
  greatest feature values compared column by column in the view's declared
  column order (NULL lowest, text by code point). Rows equal on all of these
  carry the same feature values, so whichever is taken the answer is the same.
-#}

{% macro fw_pit_is_text(data_type) %}
    {%- set t = (data_type or '') | lower -%}
    {{ return(t.startswith('varchar') or t.startswith('text') or t.startswith('string')
              or t.startswith('char') or t.startswith('character') or t.startswith('nvarchar') or t == 'bpchar') }}
{% endmacro %}


{#- A sort expression for a tie-break column that orders the same on every engine. -#}
{% macro fw_pit_tie_expr(expr, data_type) %}
    {{ return(adapter.dispatch('fw_pit_tie_expr', 'featurewarehouse')(expr, data_type)) }}
{% endmacro %}

{% macro default__fw_pit_tie_expr(expr, data_type) %}
    {{ return(expr) }}
{% endmacro %}

{#- Postgres sorts text by the database collation; "C" is code-point order, as DuckDB and Python sort. -#}
{% macro postgres__fw_pit_tie_expr(expr, data_type) %}
    {%- if featurewarehouse.fw_pit_is_text(data_type) -%}{{ return(expr ~ ' collate "C"') }}{%- endif -%}
    {{ return(expr) }}
{% endmacro %}


{#-
  The preference order of a view's rows, as an ORDER BY list over columns of
  `prefix` (e.g. 'r.'): ascending (best row last) or descending (best row first).
  `ts_expr` is the already-cast timestamp expression.
-#}
{% macro fw_pit_preference(view, prefix, ts_expr, descending) %}
    {%- set dir = ' desc nulls last' if descending else ' asc nulls first' -%}
    {%- set parts = [ts_expr ~ (' desc' if descending else ' asc')] -%}
    {%- if view.created -%}{%- do parts.append(prefix ~ view.created ~ dir) -%}{%- endif -%}
    {%- for f in view.features -%}
        {%- do parts.append(featurewarehouse.fw_pit_tie_expr(prefix ~ f.name, f.data_type) ~ dir) -%}
    {%- endfor -%}
    {{ return(parts | join(', ')) }}
{% endmacro %}


{#- "a.k1 = b.k1 and a.k2 = b.k2": composite keys compared column by column, never concatenated. -#}
{% macro fw_pit_keys_equal(keys, left, right) %}
    {%- set parts = [] -%}
    {%- for k in keys -%}{%- do parts.append(left ~ k ~ ' = ' ~ right ~ k) -%}{%- endfor -%}
    {{ return(parts | join(' and ')) }}
{% endmacro %}

{% macro fw_pit_keys_not_null(keys, prefix) %}
    {%- set parts = [] -%}
    {%- for k in keys -%}{%- do parts.append(prefix ~ k ~ ' is not null') -%}{%- endfor -%}
    {{ return(parts | join(' and ')) }}
{% endmacro %}

{% macro fw_pit_list(names, prefix) %}
    {%- set parts = [] -%}
    {%- for n in names -%}{%- do parts.append(prefix ~ n) -%}{%- endfor -%}
    {{ return(parts | join(', ')) }}
{% endmacro %}


{#- Timestamps are UTC and compared as timestamps; a DATE becomes midnight. -#}
{% macro fw_pit_ts(expr) %}
    {{ return(adapter.dispatch('fw_pit_ts', 'featurewarehouse')(expr)) }}
{% endmacro %}

{% macro default__fw_pit_ts(expr) %}
    {{ return('cast(' ~ expr ~ ' as timestamp)') }}
{% endmacro %}

{#-
  DuckDB: through epoch microseconds, which read a TIMESTAMP WITH TIME ZONE as
  its UTC instant whatever the session's TimeZone (a cast gives local time
  there), a naive timestamp as UTC, a DATE as midnight. Measured (docs/performance-pit.md):
  on 1M tz-aware rows 0.03 s against 0.5 s for the cast, which goes through
  ICU per row; it was a third of the PIT join's time on tz-aware data.
  epoch_us() is NULL for +-infinity: the cast keeps those (and NULL stays NULL).
-#}
{% macro duckdb__fw_pit_ts(expr) %}
    {{ return('coalesce(make_timestamp(epoch_us(' ~ expr ~ ')), cast(' ~ expr ~ ' as timestamp))') }}
{% endmacro %}


{#-
  fw_pit_ts of a view's column `fw_src.<column>`, skipped where the warehouse
  says the column already is what fw_pit_ts returns (DuckDB: TIMESTAMP). The
  normalization of a naive column was 12% of the DuckDB body's CPU on 1M-row
  views (docs/performance-pit.md); skipping it returns the same values. One
  catalog query per view at render time, only on DuckDB; a relation that does
  not exist yet (compiled before it is built) keeps the normalization.
-#}
{% macro fw_pit_view_ts(v, column) %}
    {{ return(adapter.dispatch('fw_pit_view_ts', 'featurewarehouse')(v, column)) }}
{% endmacro %}

{% macro default__fw_pit_view_ts(v, column) %}
    {{ return(featurewarehouse.fw_pit_ts('fw_src.' ~ column)) }}
{% endmacro %}

{% macro duckdb__fw_pit_view_ts(v, column) %}
    {{ return(featurewarehouse.fw_pit_view_ts_naive_as_is(v, column, ['timestamp'])) }}
{% endmacro %}

{#- PostgreSQL: a `timestamp without time zone` column is what the cast returns; the postgres__ body's
    range join compares it as it is (a timestamptz keeps the cast, read in the session's time zone). -#}
{% macro postgres__fw_pit_view_ts(v, column) %}
    {{ return(featurewarehouse.fw_pit_view_ts_naive_as_is(v, column, ['timestamp', 'timestamp without time zone'])) }}
{% endmacro %}

{#- `fw_src.<column>` as it is when the catalog reports one of the engine's naive timestamp types
    (`naive_types`, lower case) for it, else normalized by fw_pit_ts; one catalog query per view. -#}
{% macro fw_pit_view_ts_naive_as_is(v, column, naive_types) %}
    {%- if execute and v.relation is not string -%}
        {%- for c in adapter.get_columns_in_relation(v.relation) -%}
            {%- if (c.name | lower) == (column | lower) and (c.dtype | lower) in naive_types -%}
                {{ return('fw_src.' ~ column) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(featurewarehouse.fw_pit_ts('fw_src.' ~ column)) }}
{% endmacro %}


{#- t minus the view's TTL (seconds). -#}
{% macro fw_pit_minus_ttl(expr, ttl_seconds) %}
    {{ return(adapter.dispatch('fw_pit_minus_ttl', 'featurewarehouse')(expr, ttl_seconds)) }}
{% endmacro %}

{% macro default__fw_pit_minus_ttl(expr, ttl_seconds) %}
    {{ return(dbt.dateadd('second', -1 * ttl_seconds, expr) | trim) }}
{% endmacro %}

{#- Spark: dbt-spark's dateadd goes through unix seconds and drops the fraction of a second, which
    moves the inclusive TTL bound (tests/spark/test_pit_spark.py catches it); an interval keeps it. -#}
{% macro spark__fw_pit_minus_ttl(expr, ttl_seconds) %}
    {{ return('(' ~ expr ~ ' - make_dt_interval(0, 0, 0, ' ~ ttl_seconds ~ '))') }}
{% endmacro %}


{#- The current UTC time as a timestamp without time zone. -#}
{% macro fw_pit_utc_now() %}
    {{ return(adapter.dispatch('fw_pit_utc_now', 'featurewarehouse')()) }}
{% endmacro %}

{% macro default__fw_pit_utc_now() %}
    {{ return(featurewarehouse.fw_pit_ts(dbt.current_timestamp())) }}
{% endmacro %}

{% macro postgres__fw_pit_utc_now() %}
    {{ return("(now() at time zone 'utc')") }}
{% endmacro %}

{% macro duckdb__fw_pit_utc_now() %}
    {{ return("cast(timezone('UTC', now()) as timestamp)") }}
{% endmacro %}


{#- as_of: none (now), a timestamp/date literal like '2024-05-01 12:00:00', or a SQL expression. -#}
{% macro fw_pit_as_of_expr(as_of) %}
    {%- if as_of is none or as_of == '' -%}{{ return(featurewarehouse.fw_pit_utc_now()) }}{%- endif -%}
    {#- a date-time, bare or as a quoted SQL string literal, is a timestamp literal -#}
    {%- set literal = modules.re.match("^'?([0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]+)?)'?$", as_of.strip()) if as_of is string else none -%}
    {%- if literal -%}
        {{ return(featurewarehouse.fw_pit_ts("timestamp '" ~ literal.group(1) ~ "'")) }}
    {%- endif -%}
    {{ return(featurewarehouse.fw_pit_ts(as_of | string)) }}
{% endmacro %}


{#-
  The body of a PIT join's ranked-rows CTE for plan view `v`: its keys, fw_ts,
  fw_visible_at (`visible_at`: the SQL for the instant a row becomes visible),
  fw_rank (row_number per key in preference order, best row highest) and the
  selected features, from rows with no NULL key, ts or available_timestamp.
  Shared by the portable and DuckDB point_in_time_join bodies.
-#}
{% macro fw_pit_ranked_rows(v, visible_at, extra_where='') %}
    {%- set ts = featurewarehouse.fw_pit_ts('fw_src.' ~ v.timestamp) -%}
    {%- set sql %}
    select
        {{ featurewarehouse.fw_pit_list(v['keys'], 'fw_src.') }},
        {{ ts }} as fw_ts,
        {{ visible_at }} as fw_visible_at,
        row_number() over (
            partition by {{ featurewarehouse.fw_pit_list(v['keys'], 'fw_src.') }}
            order by {{ featurewarehouse.fw_pit_preference(v, 'fw_src.', ts, false) }}
        ) as fw_rank
        {%- for f in v.selected %},
        fw_src.{{ f.name }}
        {%- endfor %}
    from {{ v.relation }} as fw_src
    where {{ featurewarehouse.fw_pit_keys_not_null(v['keys'], 'fw_src.') }} and fw_src.{{ v.timestamp }} is not null
        {%- if v.available %} and fw_src.{{ v.available }} is not null{% endif %}
        {%- if extra_where %}
        and {{ extra_where }}{% endif %}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  A filter on a view's rows to those that can be a candidate for some spine row:
  visible (`visible_at`: ts, or greatest(ts, available)) at or before the
  spine's last time, and, with a TTL, not older than its first time minus the
  TTL. Rows outside were never chosen for any spine row (a row older than every
  spine time minus the TTL also ranks below every row that passes, so the best
  visible row is unchanged or was already too old). One scalar scan of the
  spine's time; `t` is the spine's normalized time over `fw_spine`.
-#}
{% macro fw_pit_spine_range_filter(v, ts, visible_at, t) %}
    {%- set parts = [visible_at ~ ' <= (select max(' ~ t ~ ') from fw_spine)'] -%}
    {%- if v.ttl_seconds -%}
        {%- do parts.append(ts ~ ' >= (select ' ~ featurewarehouse.fw_pit_minus_ttl('min(' ~ t ~ ')', v.ttl_seconds) ~ ' from fw_spine)') -%}
    {%- endif -%}
    {{ return(parts | join(' and ')) }}
{% endmacro %}


{#- A view's lookups: each distinct (keys, t) of the spine with no NULL key or time, looked up once. -#}
{% macro fw_pit_lookups_cte(v, p, t, spine_timestamp) %}
    {%- set sql %}
-- {{ v.name }}: each distinct (keys, time) of the spine is looked up once
{{ p }}_lookups as (
    select distinct {{ featurewarehouse.fw_pit_list(v['keys'], 'fw_spine.') }}, {{ t }} as fw_t
    from fw_spine
    where {{ featurewarehouse.fw_pit_keys_not_null(v['keys'], 'fw_spine.') }} and fw_spine.{{ spine_timestamp }} is not null
)
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  The portable formulation of one view (no range join, no ASOF): the CTEs
  <p>_lookups, <p>_rows, <p>_timeline, <p>_best and <p>_answers, the last with
  one row per lookup (keys, fw_t) and the selected features (NULL when no row
  qualifies). Steps: the view's rows ranked per key in preference order (best =
  highest rank); a timeline of rows (at the time they became visible:
  greatest(ts, available)) and lookups, where a running max of the rank carries
  the best row seen so far forward to each lookup (rows at the same instant come
  before the lookup: ts <= t); the rank joined back to the row, the TTL checked
  on that row's ts. Because rank order is preference order, the running max is
  the best candidate even when available_timestamp reorders visibility; and if
  the best visible row is older than the TTL, every visible row is, so a TTL
  check on it suffices. Used by the default__ body for every view and by the
  postgres__ body for views without a TTL.
-#}
{% macro fw_pit_timeline_ctes(v, p, t, spine_timestamp) %}
    {%- set keys = v['keys'] -%}
    {%- set ts = featurewarehouse.fw_pit_ts('fw_src.' ~ v.timestamp) -%}
    {%- if v.available -%}
        {%- set avail = featurewarehouse.fw_pit_ts('fw_src.' ~ v.available) -%}
        {%- set visible_at = 'case when ' ~ ts ~ ' >= ' ~ avail ~ ' then ' ~ ts ~ '\n             else ' ~ avail ~ ' end' -%}
    {%- else -%}
        {%- set visible_at = ts -%}
    {%- endif -%}
    {%- set sql %}
{{ featurewarehouse.fw_pit_lookups_cte(v, p, t, spine_timestamp) }},

-- {{ v.name }}: rows ranked per key, best last (ts, created, then the tie-break of decision 0001)
{{ p }}_rows as ({{ featurewarehouse.fw_pit_ranked_rows(v, visible_at) }}
),

{{ p }}_timeline as (
    select {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_visible_at as fw_at, 0 as fw_is_lookup, fw_rank
    from {{ p }}_rows
    union all
    select {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_t as fw_at, 1 as fw_is_lookup, cast(null as bigint) as fw_rank
    from {{ p }}_lookups
),

-- the best rank visible at each lookup: a running max, rows before lookups at equal times (ts <= t)
{{ p }}_best as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        fw_at as fw_t,
        fw_is_lookup,
        max(fw_rank) over (
            partition by {{ featurewarehouse.fw_pit_list(keys, '') }}
            order by fw_at, fw_is_lookup
            rows between unbounded preceding and current row
        ) as fw_rank
    from {{ p }}_timeline
),

{{ p }}_answers as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_best.') }},
        fw_best.fw_t,
        fw_row.fw_ts as fw_row_ts
        {%- for f in v.selected %},
        fw_row.{{ f.name }}
        {%- endfor %}
    from {{ p }}_best as fw_best
    left join {{ p }}_rows as fw_row
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_best.', 'fw_row.') }}
        and fw_best.fw_rank = fw_row.fw_rank
        {%- if v.ttl_seconds %}
        -- ttl {{ v.ttl_seconds }}s, inclusive: older values are not joined
        and fw_row.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_best.fw_t', v.ttl_seconds) }}
        {%- endif %}
    where fw_best.fw_is_lookup = 1
)
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  The final CTE of a body whose views each answer in `<p>_answers` (one row per
  (keys, time) of the spine, with fw_row_ts, the found row's time, and the
  selected features): the spine left-joined to every view's answers (and a
  rolling view's windows at t, rolling_pit.sql). `t` is the spine's normalized
  time; answers match it on fw_t, or, with `raw_time` (the postgres__ body's
  range join: views whose formulation is 'range'), the spine's own timestamp
  column on fw_spine_t.
-#}
{% macro fw_pit_answers_final(plan, t, raw_time=none) %}
    {%- set sql -%}
final as (
    select
        fw_spine.*
        {%- for v in plan.views %}
        {%- set p = 'fw_v' ~ loop.index %}
        {%- for f in v.selected %},
        {{ featurewarehouse.fw_rolling_pit_value(v, p, f, p ~ '.fw_row_ts', t) }} as {{ f.output }}
        {%- endfor %}
        {%- endfor %}
    from fw_spine
    {%- for v in plan.views %}
    {%- set p = 'fw_v' ~ loop.index %}
    left join {{ p }}_answers as {{ p }}
        on {{ featurewarehouse.fw_pit_keys_equal(v['keys'], 'fw_spine.', p ~ '.') }}
        {%- if raw_time and v.formulation == 'range' %}
        and fw_spine.{{ raw_time }} = {{ p }}.fw_spine_t
        {%- else %}
        and {{ t }} = {{ p }}.fw_t
        {%- endif %}
    {{- featurewarehouse.fw_rolling_pit_join(v, p, t) }}
    {%- endfor %}
)
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
