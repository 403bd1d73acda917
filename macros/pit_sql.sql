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
    {{ return('cast(' ~ expr ~ ' as timestamp)') }}
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
    {%- if as_of is string and modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]+)?$', as_of.strip()) -%}
        {{ return(featurewarehouse.fw_pit_ts("'" ~ as_of.strip() ~ "'")) }}
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
{% macro fw_pit_ranked_rows(v, visible_at) %}
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
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
