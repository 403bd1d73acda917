{#-
  Window features exact at the spine's time, for point_in_time_join (issue #18).

  A rolling_features view holds its windows as of each event; the PIT row lookup
  takes the latest row at ts <= t, whose `txn_count_1h` is the count in the hour
  before the entity's last event, not before t. For a view that records
  config.meta.fw_generated.rolling, the PIT bodies keep their row lookup (it
  decides whether the entity has a row within the TTL: otherwise every feature
  of the view is NULL, as for any view) and take each selected window feature
  from these CTEs instead: the window aggregate over the source rows in
  [t - d, t] ([t - d, t) exclusive) of each distinct (keys, t) of the spine, the
  rolling macro's edge rule evaluated at t.

  How, for the spine times at which the view has no row of the entity (a row at t
  already holds the windows at t), per entity the cheaper of two forms of one rule:
  - windows: the source rows and the lookups (pseudo-rows whose values are all
    NULL, so they count in no aggregate) form one timeline, and the view's own
    RANGE windows (rolling_features_sql.sql) run over it. A lookup at t and events
    at t are RANGE peers: `current row` includes the events at t, `exclude group`
    leaves them (and the lookup) out. Cost ~ rows + lookups, times the windows.
  - join: each lookup joined to the source rows of its longest window and
    aggregated (the incremental build's form). Cost ~ lookups x rows per window:
    cheap for sparse entities, quadratic in a dense one's (a busy merchant).
  The join is taken where lookups x rows x (longest window / the entity's time
  span) <= vars.fw.rolling_pit_join_factor (default 4) x (rows + lookups).
  Measured (bench/rolling_pit.py, 1M payments, 200k labels, half off a payment's
  time): 40 payments per customer, the choice 2.5 s against 6.4 s for windows
  everywhere (the join alone: 0.24-0.28x the windows in a hand-written test);
  4000 per customer, the join alone took 6x the windows, and the choice takes them.
  tests/dbt/test_rolling_pit.py runs every case with each form forced.

  Hooks, callable from any PIT body whose spine CTE is `fw_spine`:
    fw_rolling_pit_ctes(v, p, t)        CTEs `<p>_w*`, each followed by a comma ('' for other views)
    fw_rolling_pit_join(v, p, t)        the left join of `<p>_w` on (keys, t) ('' for other views)
    fw_rolling_pit_value(v, p, f, row_ts, t)  the column of selected feature f: `<p>.<f>` for other
        features; for a window feature NULL where the row lookup found no row (`row_ts`, the
        found row's time, is NULL), the found row's value where it is at t itself (the same
        window, and bit for bit the view's value), else the value of `<p>_w`
-#}

{#-
  The view's rolling metadata for the PIT, or none when it has no selected
  window feature: {rolling, relation (its source), features (the selected ones),
  values (theirs), lookback_seconds (none: some window is lifetime)}. Cached on v.
-#}
{% macro fw_rolling_pit_meta(v) %}
    {%- if 'fw_rolling' in v -%}{{ return(v.fw_rolling) }}{%- endif -%}
    {%- set node = featurewarehouse.fw_pit_find_model(v.name) -%}
    {%- set rolling = featurewarehouse.fw_pit_generated(node).get('rolling') if node is not none else none -%}
    {%- set selected = v.selected | map(attribute='name') | list -%}
    {%- set features = (rolling or {}).get('features', []) | selectattr('name', 'in', selected) | list -%}
    {%- if not features -%}
        {%- do v.update({'fw_rolling': none}) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if rolling.get('version') != 1 -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join',
            "feature view '" ~ v.name ~ "' records rolling metadata version " ~ rolling.get('version') ~ ", this package reads version 1",
            "rebuild the project with the package version that reads it (dbt deps), so the view and the join agree") }}
    {%- endif -%}
    {%- if rolling['keys'] != v['keys'] -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join',
            "feature view '" ~ v.name ~ "' (" ~ v.original_file_path ~ ") has join keys " ~ v['keys'] | join(', ') ~ " (config.meta.fw.entity) but its rolling_features windows are partitioned by "
                ~ rolling['keys'] | join(', '),
            "pass rolling_features the entity the view's YAML declares") }}
    {%- endif -%}
    {%- set indexes = features | map(attribute='index') | list -%}
    {%- set seconds = features | map(attribute='seconds') | list -%}
    {%- set meta = {
        'rolling': rolling,
        'relation': featurewarehouse.fw_rolling_pit_source(node, v),
        'features': features,
        'values': rolling['values'] | selectattr('index', 'in', indexes) | list,
        'lookback_seconds': none if (seconds | reject | list) else seconds | max,
    } -%}
    {%- do v.update({'fw_rolling': meta}) -%}
    {{ return(meta) }}
{% endmacro %}


{#-
  The relation a rolling view reads: its only parent in the graph (ref() and
  source() name no relation at parse time, so the macro cannot record it). Built
  from the node rather than with ref(): the training set does not depend on it directly.
-#}
{% macro fw_rolling_pit_source(node, v) %}
    {%- set parents = (node.get('depends_on') or {}).get('nodes') or [] -%}
    {%- set fix = "pass rolling_features a source that is a model, seed, snapshot or source, and ref() nothing else in "
        ~ node.original_file_path ~ " (move the rest into that source model)" -%}
    {%- if parents | length != 1 -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join',
            "feature view '" ~ v.name ~ "' is a rolling_features view, whose window features at the spine's time are computed from its source: its only parent, but it has "
                ~ parents | length ~ " (" ~ (parents | join(', ') or 'none') ~ ")", fix) }}
    {%- endif -%}
    {%- set uid = parents[0] -%}
    {%- set parent = graph.sources.get(uid) if uid.startswith('source.') else graph.nodes.get(uid) -%}
    {%- if parent is none or (parent.get('config') or {}).get('materialized') == 'ephemeral' -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join',
            "the source " ~ uid ~ " of rolling_features view '" ~ v.name ~ "' is " ~ ('not in the graph' if parent is none else 'ephemeral')
                ~ ", so the training set cannot read its rows",
            "materialize it as a view or table, or " ~ fix) }}
    {%- endif -%}
    {{ return(api.Relation.create(database=parent.database, schema=parent.schema,
        identifier=parent.identifier if uid.startswith('source.') else (parent.alias or parent.name))) }}
{% endmacro %}


{% macro fw_rolling_pit_ctes(v, p, t) %}
    {%- set meta = featurewarehouse.fw_rolling_pit_meta(v) -%}
    {%- if meta is none -%}{{ return('') }}{%- endif -%}
    {%- set rolling = meta.rolling -%}
    {%- set keys = rolling['keys'] -%}
    {%- set ts = featurewarehouse.fw_pit_view_ts({'relation': meta.relation}, rolling.timestamp) -%}
    {%- set lasts = meta['values'] | selectattr('agg', 'equalto', 'last') | list -%}
    {%- set skip = featurewarehouse.fw_rolling_not_windowed() -%}
    {%- set distincts = [] if 'count_distinct' not in skip
        else meta['values'] | selectattr('agg', 'equalto', 'count_distinct') | list -%}
    {#- the window columns of fw_rolling_window_columns and fw_rolling_join_columns, in their order -#}
    {%- set columns = ['fw_ts'] -%}
    {%- for val in lasts -%}{%- do columns.append('fw_last_ts' ~ val.index) -%}{%- endfor -%}
    {%- for f in meta.features if f.agg not in skip -%}{%- do columns.append(f.name) -%}{%- endfor -%}
    {%- set factor = (var('fw', {}) or {}).get('rolling_pit_join_factor', 4) -%}
    {%- if factor is not number or factor is boolean -%}
        {{ featurewarehouse.fw_pit_fail('point_in_time_join', "vars.fw.rolling_pit_join_factor must be a number, got " ~ factor,
            "set it to a number in dbt_project.yml (default 4; 0 or less: always windows, very large: always the join), or remove it") }}
    {%- endif -%}
    {%- set form = 'select ' ~ featurewarehouse.fw_pit_list(keys, '') ~ ' from ' ~ p ~ '_wform where fw_join = ' -%}
    {%- set by_join, by_windows = form ~ '1', form ~ '0' -%}
    {%- set sql %}

-- {{ v.name }}: each distinct (keys, time) of the spine at which the view has no row: a row
-- at t holds the windows at t already (the view evaluates the same rule at its instants;
-- with an available_timestamp the row at t may not be the one found, so every time is computed)
{{ p }}_wlookups as (
    select distinct {{ featurewarehouse.fw_pit_list(keys, 'fw_spine.') }}, {{ t }} as fw_ts
    from fw_spine
    where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_spine.') }} and {{ t }} is not null
        {%- if not v.available %}
        and not exists (
            select 1 from {{ v.relation }} as fw_src
            where {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_src.', 'fw_spine.') }}
                and {{ featurewarehouse.fw_pit_view_ts(v, v.timestamp) }} = {{ t }})
        {%- endif %}
),

-- {{ v.name }}: its source's rows (fw_v<i>: the aggregated values, filters applied) of the
-- lookups' entities, only those some lookup's window can hold
{{ p }}_wrows as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_src.') }},
        {{ ts }} as fw_ts
        {%- for val in meta['values'] %},
        {{ val.expr }} as fw_v{{ val.index }}
        {%- endfor %}
    from {{ meta.relation }} as fw_src
    where {{ featurewarehouse.fw_pit_keys_not_null(keys, 'fw_src.') }} and fw_src.{{ rolling.timestamp }} is not null
        {%- if rolling.where %}
        and ({{ rolling.where }})
        {%- endif %}
        and {{ featurewarehouse.fw_pit_spine_range_filter({'ttl_seconds': meta.lookback_seconds}, ts, ts, t) }}
        and ({{ featurewarehouse.fw_pit_list(keys, 'fw_src.') }}) in (
            select {{ featurewarehouse.fw_pit_list(keys, '') }} from {{ p }}_wlookups)
),

-- {{ v.name }}: per entity, the cheaper form: the join when lookups x rows per window (rows x
-- the window's share of the entity's time span) is at most {{ factor }} x (rows + lookups), else the windows
{{ p }}_wform as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_l.') }},
        case when fw_l.fw_lookups * coalesce(fw_r.fw_rows, 0)
            {%- if meta.lookback_seconds %}
                * coalesce(least(1.0, {{ meta.lookback_seconds }} / nullif({{ featurewarehouse.fw_seconds_between('fw_r.fw_first', 'fw_r.fw_last') }}, 0)), 1.0)
            {%- endif %}
            <= cast({{ factor }} as {{ featurewarehouse.fw_type_double() }}) * (coalesce(fw_r.fw_rows, 0) + fw_l.fw_lookups)
            then 1 else 0 end as fw_join
    from (
        select {{ featurewarehouse.fw_pit_list(keys, '') }}, count(*) as fw_lookups
        from {{ p }}_wlookups group by {{ featurewarehouse.fw_pit_list(keys, '') }}
    ) as fw_l
    left join (
        select {{ featurewarehouse.fw_pit_list(keys, '') }}, count(*) as fw_rows, min(fw_ts) as fw_first, max(fw_ts) as fw_last
        from {{ p }}_wrows group by {{ featurewarehouse.fw_pit_list(keys, '') }}
    ) as fw_r
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_l.', 'fw_r.') }}
),

-- {{ v.name }}, windows: the rows and the lookups (values NULL, so they count nowhere) in one timeline
{{ p }}_wsrc as (
    select {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_ts, 0 as fw_lookup
        {%- for val in meta['values'] %}, fw_v{{ val.index }}{% endfor %}
    from {{ p }}_wrows
    where ({{ featurewarehouse.fw_pit_list(keys, '') }}) in ({{ by_windows }})
    union all
    select {{ featurewarehouse.fw_pit_list(keys, '') }}, fw_ts, 1 as fw_lookup
        {%- for val in meta['values'] %}, null{% endfor %}
    from {{ p }}_wlookups
    where ({{ featurewarehouse.fw_pit_list(keys, '') }}) in ({{ by_windows }})
),

-- {{ v.name }}, windows: the view's RANGE windows, evaluated at every row of the timeline
{{ p }}_wwin as (
    select
        {{ featurewarehouse.fw_pit_list(keys, '') }},
        fw_ts,
        {%- for column in featurewarehouse.fw_rolling_window_columns(keys, meta.features, lasts, rolling.exclusive, true) %}
        {{ column }},
        {%- endfor %}
        fw_lookup
    from {{ p }}_wsrc
),

-- {{ v.name }}: the lookups' window columns, from the windows or from the join of each lookup
-- to the rows of its longest window
{{ p }}_wat as (
    select {{ featurewarehouse.fw_pit_list(keys + columns, '') }}
    from {{ p }}_wwin
    where fw_lookup = 1
    union all
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_n.') }},
        fw_n.fw_ts
        {%- for column in featurewarehouse.fw_rolling_join_columns(meta.features, lasts, skip) %},
        {{ column }}
        {%- endfor %}
    from {{ p }}_wlookups as fw_n
    left join {{ p }}_wrows as fw_s
        on {{ featurewarehouse.fw_pit_keys_equal(keys, 'fw_s.', 'fw_n.') }}
        and fw_s.fw_ts {{ '<' if rolling.exclusive else '<=' }} fw_n.fw_ts
        {%- if meta.lookback_seconds %}
        and fw_s.fw_ts >= {{ featurewarehouse.fw_pit_minus_ttl('fw_n.fw_ts', meta.lookback_seconds) }}
        {%- endif %}
    where ({{ featurewarehouse.fw_pit_list(keys, 'fw_n.') }}) in ({{ by_join }})
    group by {{ featurewarehouse.fw_pit_list(keys, 'fw_n.') }}, fw_n.fw_ts
),
{%- for val in lasts %}

{{ p }}_wlast{{ val.index }} as ({{ featurewarehouse.fw_rolling_last_values(val, keys, p ~ '_wrows') }}
),
{%- endfor %}
{%- for val in distincts %}

{{ p }}_wdistinct{{ val.index }} as ({{ featurewarehouse.fw_rolling_distinct_join(
    val, meta.features | selectattr('index', 'equalto', val.index) | list, keys, p ~ '_wat', p ~ '_wrows', rolling.exclusive) }}
),
{%- endfor %}

-- {{ v.name }}: the window features at each lookup's time
{{ p }}_w as (
    select
        {{ featurewarehouse.fw_pit_list(keys, 'fw_i.') }},
        fw_i.fw_ts
        {%- for f in meta.features %},
        {{ featurewarehouse.fw_rolling_value(f, distincts | length > 0) }} as {{ f.name }}
        {%- endfor %}
    from {{ p }}_wat as fw_i
    {{- featurewarehouse.fw_rolling_value_joins(keys, lasts, p ~ '_wlast', distincts, p ~ '_wdistinct') }}
),
    {%- endset %}
    {{ return(sql) }}
{% endmacro %}


{% macro fw_rolling_pit_join(v, p, t) %}
    {%- set meta = featurewarehouse.fw_rolling_pit_meta(v) -%}
    {%- if meta is none -%}{{ return('') }}{%- endif -%}
    {%- set sql %}
    left join {{ p }}_w
        on {{ featurewarehouse.fw_pit_keys_equal(meta.rolling['keys'], 'fw_spine.', p ~ '_w.') }}
        and {{ t }} = {{ p }}_w.fw_ts
    {%- endset %}
    {{ return(sql) }}
{% endmacro %}


{% macro fw_rolling_pit_value(v, p, f, row_ts, t) %}
    {%- set meta = featurewarehouse.fw_rolling_pit_meta(v) -%}
    {%- if meta is none or f.name not in (meta.features | map(attribute='name') | list) -%}
        {{ return(p ~ '.' ~ f.name) }}
    {%- endif -%}
    {{ return('case when ' ~ row_ts ~ ' = ' ~ t ~ ' then ' ~ p ~ '.' ~ f.name
        ~ ' when ' ~ row_ts ~ ' is not null then ' ~ p ~ '_w.' ~ f.name ~ ' end') }}
{% endmacro %}
