{#-
  SQL fragments of the rolling windows, one home for the view build
  (rolling_features) and the PIT join at a spine row's time (rolling_pit.sql).
  Internal. They read CTEs with the entity's keys, `fw_ts` and one `fw_v<index>`
  per aggregated value (NULL where a row does not count), and take the features
  and values in the shape of config.meta.fw_generated.rolling (plus the plan's
  max_seconds per value).

  Aliases in the final select: `fw_i` the instant (keys, fw_ts, window columns),
  `fw_l<index>` the value of `last` #index at its instant, `fw_d<index>` the
  distinct counts of value #index where they come from a join.
-#}

{#- The aggregate over fw_v<i> (NULL where the row does not count), as a window or over a join. -#}
{% macro fw_rolling_window_agg(agg, value) %}
    {%- set forms = {
        'count_distinct': 'count(distinct ' ~ value ~ ')',
        'count': 'count(' ~ value ~ ')',
        'sum': 'sum(' ~ value ~ ')',
        'avg': 'avg(' ~ value ~ ')',
        'min': 'min(' ~ value ~ ')',
        'max': 'max(' ~ value ~ ')',
        'stddev': 'stddev_samp(' ~ value ~ ')',
    } -%}
    {{ return(forms[agg]) }}
{% endmacro %}


{#-
  Whether count(distinct x) works as a RANGE window aggregate. PostgreSQL has no
  DISTINCT window aggregates; DuckDB has, and the join took 1.5-1.8x its time
  (bench/rolling_build.py --count-distinct, 1M transactions, 4 windows).
  The property tests run the window form on DuckDB and the join on PostgreSQL.
-#}
{% macro fw_rolling_has_distinct_windows() %}
    {{ return(adapter.dispatch('fw_rolling_has_distinct_windows', 'featurewarehouse')()) }}
{% endmacro %}

{% macro default__fw_rolling_has_distinct_windows() %}{{ return(false) }}{% endmacro %}

{% macro duckdb__fw_rolling_has_distinct_windows() %}{{ return(true) }}{% endmacro %}


{#- RANGE frame start: `d` back from the row (inclusive), or every earlier row. -#}
{% macro fw_rolling_frame_start(seconds) %}
    {{ return("interval '" ~ seconds ~ " seconds' preceding" if seconds else 'unbounded preceding') }}
{% endmacro %}


{#-
  The aggregations computed elsewhere than in a window column: `last` always (a
  window gives its instant, a join its value), count_distinct where the engine
  has no DISTINCT window aggregate.
-#}
{% macro fw_rolling_not_windowed() %}
    {{ return(('last',) if featurewarehouse.fw_rolling_has_distinct_windows() else ('last', 'count_distinct')) }}
{% endmacro %}


{#-
  The RANGE window columns, as a list of `<expr> over (...) as <name>`: per `last`
  value its latest instant with a value (fw_last_ts<index>, up to the row), per
  windowed feature its aggregate. Rows at the same instant are RANGE peers:
  `current row` includes them all, `exclude group` (exclusive) leaves them all out.
  pseudo_rows: the CTE also holds rows whose values are all NULL (the PIT join's
  lookups), so a row count counts a value (the constant 1) instead of count(*).
-#}
{% macro fw_rolling_window_columns(keys, features, lasts, exclusive, pseudo_rows=false) %}
    {%- set frame_end = 'current row exclude group' if exclusive else 'current row' -%}
    {%- set over = 'partition by ' ~ featurewarehouse.fw_pit_list(keys, '') ~ ' order by fw_ts\n            range between ' -%}
    {%- set skip = featurewarehouse.fw_rolling_not_windowed() -%}
    {%- set columns = [] -%}
    {%- for v in lasts -%}
        {%- do columns.append('max(case when fw_v' ~ v.index ~ ' is not null then fw_ts end) over (\n            '
            ~ over ~ 'unbounded preceding and ' ~ frame_end ~ ') as fw_last_ts' ~ v.index) -%}
    {%- endfor -%}
    {%- for f in features if f.agg not in skip -%}
        {#- rows: count(*), which DuckDB evaluates from the frame's size, without a segment tree -#}
        {%- set agg = 'count(*)' if f.rows and not pseudo_rows
            else featurewarehouse.fw_rolling_window_agg(f.agg, featurewarehouse.fw_pit_tie_expr('fw_v' ~ f.index, f.data_type)) -%}
        {%- do columns.append(agg ~ ' over (\n            ' ~ over ~ featurewarehouse.fw_rolling_frame_start(f.seconds)
            ~ ' and ' ~ frame_end ~ ') as ' ~ f.name) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}


{#-
  The same columns as fw_rolling_window_columns, as aggregates over a join of
  instants `fw_n` (keys, fw_ts) to the source rows `fw_s` of their longest window
  (fw_s.fw_ts <= fw_n.fw_ts, < exclusive, and within the longest window): per
  `last` value its latest instant with a value, per feature whose agg is not in
  `skip` its aggregate over the rows of its own window.
-#}
{% macro fw_rolling_join_columns(features, lasts, skip) %}
    {%- set columns = [] -%}
    {%- for v in lasts -%}
        {%- do columns.append('max(case when fw_s.fw_v' ~ v.index ~ ' is not null then fw_s.fw_ts end) as fw_last_ts' ~ v.index) -%}
    {%- endfor -%}
    {%- for f in features if f.agg not in skip -%}
        {%- set value = ('(case when fw_s.fw_ts >= ' ~ featurewarehouse.fw_pit_minus_ttl('fw_n.fw_ts', f.seconds) ~ ' then fw_s.fw_v' ~ f.index ~ ' end)')
            if f.seconds else ('fw_s.fw_v' ~ f.index) -%}
        {%- do columns.append(featurewarehouse.fw_rolling_window_agg(f.agg, featurewarehouse.fw_pit_tie_expr(value, f.data_type)) ~ ' as ' ~ f.name) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}


{#- The greatest non-NULL value of `last` value `v` at each instant of `source` (a CTE). -#}
{% macro fw_rolling_last_values(v, keys, source) %}
    {%- set sql -%}
    select {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_ts, max({{ featurewarehouse.fw_pit_tie_expr('fw_v' ~ v.index, v.data_type) }}) as fw_value
    from {{ source }}
    where fw_v{{ v.index }} is not null
    group by {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_ts
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  count_distinct of value `v` without a window form: each instant of `instants`
  (keys, fw_ts) joins the rows of `source` in its longest window, one column per
  feature of `v`.
-#}
{% macro fw_rolling_distinct_join(v, features, keys, instants, source, exclusive) %}
    {%- set bounded = features | map(attribute='seconds') | list -%}
    {%- set longest = none if (bounded | reject | list) else bounded | max -%}
    {%- set sql -%}
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_i.') }},
        fw_i.fw_ts
        {%- for f in features %},
        count(distinct {% if f.seconds %}case when fw_s.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_i.fw_ts', f.seconds) }} then fw_s.fw_v{{ v.index }} end{% else %}fw_s.fw_v{{ v.index }}{% endif %}) as {{ f.name }}
        {%- endfor %}
    from {{ instants }} as fw_i
    inner join {{ source }} as fw_s
        on {% for k in keys %}fw_s.{{ k }} = fw_i.{{ k }} and {% endfor %}fw_s.fw_ts {{ '<' if exclusive else '<=' }} fw_i.fw_ts
        {%- if longest %}
        and fw_s.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_i.fw_ts', longest) }}
        {%- endif %}
    where fw_s.fw_v{{ v.index }} is not null
    group by {{ featurewarehouse.fw_pit_list(keys, 'fw_i.') }}, fw_i.fw_ts
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
  Feature `f`'s value in the final select, cast to its type: `last` is its
  instant's value if that instant is inside the window; a distinct count from a
  join is 0 where the join found nothing; every other is the window column.
-#}
{% macro fw_rolling_value(f, distinct_join) %}
    {%- set type = featurewarehouse.fw_cast_type(f.data_type) -%}
    {%- if f.agg == 'last' -%}
        {%- set value = ('case when fw_i.fw_last_ts' ~ f.index ~ ' >= ' ~ featurewarehouse.fw_pit_minus_ttl('fw_i.fw_ts', f.seconds)
            ~ ' then fw_l' ~ f.index ~ '.fw_value end') if f.seconds else ('fw_l' ~ f.index ~ '.fw_value') -%}
    {%- elif f.agg == 'count_distinct' and distinct_join -%}
        {%- set value = 'coalesce(fw_d' ~ f.index ~ '.' ~ f.name ~ ', 0)' -%}
    {%- else -%}
        {%- set value = 'fw_i.' ~ f.name -%}
    {%- endif -%}
    {{ return('cast(' ~ value ~ ' as ' ~ type ~ ')') }}
{% endmacro %}


{#- The joins fw_rolling_value reads: per `last` value its value at its instant, per joined distinct value its counts. -#}
{% macro fw_rolling_value_joins(keys, lasts, last_cte, distincts, distinct_cte) %}
    {%- set sql -%}
    {%- for v in lasts %}
    left join {{ last_cte }}{{ v.index }} as fw_l{{ v.index }}
        on {% for k in keys %}fw_l{{ v.index }}.{{ k }} = fw_i.{{ k }} and {% endfor %}fw_l{{ v.index }}.fw_ts = fw_i.fw_last_ts{{ v.index }}
    {%- endfor %}
    {%- for v in distincts %}
    left join {{ distinct_cte }}{{ v.index }} as fw_d{{ v.index }}
        on {% for k in keys %}fw_d{{ v.index }}.{{ k }} = fw_i.{{ k }} and {% endfor %}fw_d{{ v.index }}.fw_ts = fw_i.fw_ts
    {%- endfor %}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
