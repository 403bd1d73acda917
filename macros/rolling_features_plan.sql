{#-
  rolling_features' arguments, checked and expanded, and the metadata it records
  at parse time. Internal: called by rolling_features only.
-#}

{#-
  Check the arguments and expand them: the entity's join keys, one value per
  aggregation (fw_v<index>, its filter applied) and one feature per aggregation
  and window, with name, type, description and checks.
-#}
{% macro fw_rolling_plan(source, entity, timestamp, aggregations, windows, exclusive, ttl, passthrough) %}
    {%- set m = 'rolling_features' -%}
    {%- set view_name = model.name if model is defined and model.name else 'rolling_features' -%}
    {%- if source is none or (source is string and source.strip() == '') -%}
        {{ featurewarehouse.fw_pit_fail(m, "source is missing", "pass source=ref('your_events_model') (or source('...', '...'))") }}
    {%- endif -%}
    {%- if timestamp is not string or timestamp.strip() == '' -%}
        {{ featurewarehouse.fw_pit_fail(m, "timestamp must name the source's event-time column, got " ~ timestamp, "pass e.g. timestamp='event_ts'") }}
    {%- endif -%}
    {%- if exclusive is not boolean -%}
        {{ featurewarehouse.fw_pit_fail(m, "exclusive must be true or false, got " ~ exclusive, "pass exclusive=true to leave the row's own instant out of its windows") }}
    {%- endif -%}
    {%- set keys = featurewarehouse.fw_pit_entity_keys(entity, m) -%}
    {%- if passthrough is string or passthrough is mapping -%}
        {{ featurewarehouse.fw_pit_fail(m, "passthrough must be a list of column names, got " ~ passthrough, "pass e.g. passthrough=['transaction_id']") }}
    {%- endif -%}

    {#- windows: the TTL rule's text form (ASCII digits and a unit), or lifetime -#}
    {%- if windows is string or windows is mapping or windows is none or windows | length == 0 -%}
        {{ featurewarehouse.fw_pit_fail(m, "windows must be a non-empty list, got " ~ windows, "pass e.g. windows=['1h', '24h', '7d', '30d', 'lifetime']") }}
    {%- endif -%}
    {%- set kinds = {
        'count': 'Rows', 'sum': 'Sum of', 'avg': 'Average of', 'min': 'Smallest', 'max': 'Largest',
        'stddev': 'Sample standard deviation of', 'count_distinct': 'Distinct values of', 'last': 'Latest non-NULL'} -%}
    {%- if aggregations is string or aggregations is mapping or aggregations is none or aggregations | length == 0 -%}
        {{ featurewarehouse.fw_pit_fail(m, "aggregations must be a non-empty list of mappings, got " ~ aggregations,
            "pass e.g. aggregations=[{'agg': 'count'}, {'agg': 'sum', 'column': 'amount'}]") }}
    {%- endif -%}

    {%- set values = [] -%}
    {%- set features = [] -%}
    {%- set seen = {} -%}
    {%- for k in keys + [timestamp] + passthrough -%}{%- do seen.update({k | lower: 'a key, timestamp or passthrough column'}) -%}{%- endfor -%}
    {%- set all_seconds = [] -%}
    {%- set state = namespace(lifetime=false) -%}
    {%- for a in aggregations -%}
        {%- set i = loop.index -%}
        {%- set at = 'aggregation #' ~ i ~ ' ' ~ a -%}
        {%- if a is not mapping -%}
            {{ featurewarehouse.fw_pit_fail(m, at ~ " is not a mapping", "write it as {'agg': 'sum', 'column': 'amount'}") }}
        {%- endif -%}
        {%- set unknown = a.keys() | reject('in', ['agg', 'column', 'filter', 'name', 'windows', 'data_type', 'description', 'checks']) | list -%}
        {%- if unknown -%}
            {{ featurewarehouse.fw_pit_fail(m, at ~ " has unknown key(s) " ~ unknown | join(', '),
                "use agg, column, filter, name, windows, data_type, description and checks") }}
        {%- endif -%}
        {%- set agg = a.get('agg') -%}
        {%- if agg not in kinds -%}
            {{ featurewarehouse.fw_pit_fail(m, at ~ " has unknown agg '" ~ agg ~ "'." ~ featurewarehouse.fw_pit_did_you_mean(agg | string, kinds.keys() | list),
                "use one of: " ~ kinds.keys() | list | join(', ')) }}
        {%- endif -%}
        {%- set column = a.get('column') -%}
        {%- if agg != 'count' and (column is not string or column.strip() == '') -%}
            {{ featurewarehouse.fw_pit_fail(m, at ~ ": " ~ agg ~ " needs a column", "add 'column': '<source column or expression>'") }}
        {%- endif -%}
        {%- set name = a.get('name') -%}
        {%- if not name -%}
            {%- set name = agg if not column else agg ~ '_' ~ column -%}
            {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
                {{ featurewarehouse.fw_pit_fail(m, at ~ ": the column '" ~ column ~ "' is an expression, so no column name can be derived from it",
                    "add 'name': '<prefix>' (the window is appended: <prefix>_24h)") }}
            {%- endif -%}
        {%- endif -%}
        {%- set filter = a.get('filter') -%}
        {%- set target = (column if column else '1') -%}
        {%- set expr = ('case when (' ~ filter ~ ') then ' ~ target ~ ' end') if filter else target -%}
        {%- set own_windows = a.get('windows') or windows -%}
        {%- if own_windows is string or own_windows is mapping -%}
            {{ featurewarehouse.fw_pit_fail(m, at ~ ": windows must be a list, got " ~ own_windows, "write e.g. 'windows': ['1h', '7d']") }}
        {%- endif -%}
        {%- set parsed = [] -%}
        {%- for w in own_windows -%}
            {%- if w == 'lifetime' -%}
                {%- do parsed.append(('lifetime', none)) -%}
                {%- set state.lifetime = true -%}
            {%- else -%}
                {#- one window rule with the TTL: the PIT macros' parser -#}
                {%- set s = featurewarehouse.fw_pit_ttl_seconds(w if w is string else '' ~ w, view_name ~ "' window '" ~ w, m) -%}
                {%- do parsed.append(((w | string).strip(), s)) -%}
                {%- do all_seconds.append((s, (w | string).strip())) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set bounded = parsed | map(attribute=1) | select | list -%}
        {%- set data_type = a.get('data_type') or ('bigint' if agg in ('count', 'count_distinct') else 'double') -%}
        {%- do values.append({'index': i, 'agg': agg, 'expr': expr, 'data_type': data_type,
            'max_seconds': none if (parsed | map(attribute=1) | reject | list) else (bounded | max)}) -%}
        {%- set what = (('Rows with a non-NULL ' ~ column) if agg == 'count' and column else (kinds[agg] ~ ((' ' ~ column) if column else '')))
            ~ ((' where ' ~ filter) if filter else '') -%}
        {%- for label, seconds in parsed -%}
            {%- set fname = name ~ '_' ~ label -%}
            {%- if fname | lower in seen -%}
                {{ featurewarehouse.fw_pit_fail(m, "the column name '" ~ fname ~ "' of " ~ at ~ " is used twice (also " ~ seen[fname | lower] ~ ")",
                    "give one of the aggregations another 'name'") }}
            {%- endif -%}
            {%- do seen.update({fname | lower: 'aggregation #' ~ i}) -%}
            {%- set span = ('at or before this instant' if not exclusive else 'before this instant') if seconds is none
                else ('in the ' ~ label ~ ' up to ' ~ ('and including' if not exclusive else 'but excluding') ~ ' this instant (start included)') -%}
            {#- rows: count(*), which DuckDB evaluates from the frame's size, without a segment tree -#}
            {%- do features.append({'name': fname, 'agg': agg, 'index': i, 'seconds': seconds, 'data_type': data_type,
                'rows': agg == 'count' and not column and not filter,
                'description': (a.get('description') or (what ~ ', ' ~ span ~ '.')).replace('{window}', label),
                'checks': a.get('checks') or {}}) -%}
        {%- endfor -%}
    {%- endfor -%}

    {%- set longest = all_seconds | sort | last if all_seconds else none -%}
    {%- set lookback = none if state.lifetime else longest[0] -%}
    {%- if ttl is not none -%}
        {%- do featurewarehouse.fw_pit_ttl_seconds(ttl, view_name, m) -%}
        {%- set ttl_text = ttl -%}
    {%- else -%}
        {#- the longest window: a value older than it describes an empty window, not the current one -#}
        {%- set ttl_text = none if state.lifetime else longest[1] -%}
    {%- endif -%}
    {{ return({'keys': keys, 'timestamp': timestamp, 'values': values, 'features': features, 'lookback_seconds': lookback, 'ttl': ttl_text,
        'exclusive': exclusive}) }}
{% endmacro %}


{#-
  At parse time, record the generated feature columns and the TTL in the model's
  config.meta.fw_generated (dbt merges it into the node; the registry, the PIT
  macros and validation read it where the YAML does not list the column), and
  the unique key an incremental build replaces rows by.
-#}
{% macro fw_rolling_record(plan, where) %}
    {%- set columns = {} -%}
    {%- for f in plan.features -%}
        {%- set fw = {'feature': true} -%}
        {%- if f.checks -%}{%- do fw.update({'checks': f.checks}) -%}{%- endif -%}
        {%- do columns.update({f.name: {'name': f.name, 'data_type': f.data_type, 'description': f.description,
            'config': {'meta': {'fw': fw}}}}) -%}
    {%- endfor -%}
    {#-
      rolling: what computing the windows at any instant t needs (the PIT join at a
      spine row's time, the online read at request time). The source relation is the
      model's only parent in the manifest (ref/source at parse time names no relation).
      values: one SQL expression over the source row per aggregation (its filter
      applied: NULL where the row does not count); features: name, agg, index of
      their value, window in seconds (none: lifetime). Read by contract/meta.py.
    -#}
    {%- set rolling = {'version': 1, 'keys': plan['keys'], 'timestamp': plan.timestamp, 'exclusive': plan.exclusive,
        'where': where, 'values': [], 'features': []} -%}
    {%- for v in plan['values'] -%}
        {%- do rolling['values'].append({'index': v.index, 'agg': v.agg, 'expr': v.expr, 'data_type': v.data_type}) -%}
    {%- endfor -%}
    {%- for f in plan.features -%}
        {%- do rolling['features'].append({'name': f.name, 'agg': f.agg, 'index': f.index, 'seconds': f.seconds,
            'data_type': f.data_type, 'rows': f.rows}) -%}
    {%- endfor -%}
    {%- set generated = {'columns': columns, 'rolling': rolling} -%}
    {%- if plan.ttl is not none -%}{%- do generated.update({'ttl': plan.ttl}) -%}{%- endif -%}
    {%- do config(meta={'fw_generated': generated}, unique_key=plan['keys'] + [plan.timestamp]) -%}
{% endmacro %}
