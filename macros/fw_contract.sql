{#-
  The metadata contract, Jinja side: type families, TTLs and feature refs.
  The Python home is python/featurewarehouse/contract/ (and refs.py); the
  cases in tests/contract_cases/*.json run through both
  (tests/unit/test_contract_cases.py, tests/dbt/test_contract_parity.py), so
  a rule changed here without the other side fails a test. docs/metadata.md
  states the rules.
-#}

{#- The family of a SQL type name (integer, float, decimal, text, boolean, date, time,
    timestamp, timestamptz, binary) or none. `dialect` is the dbt adapter type. -#}
{% macro fw_type_family(data_type, dialect=none) %}
    {%- if data_type is not string -%}{{ return(none) }}{%- endif -%}
    {#- drop lengths and precisions, then collapse spaces: 'timestamp(3) with time zone' -#}
    {%- set name = modules.re.sub('\\s+', ' ', modules.re.sub('\\([^)]*\\)', '', data_type | lower)).strip() -%}
    {%- set d = (dialect or target.type) | lower -%}
    {%- if name == 'timestamp' and d in ('spark', 'databricks', 'bigquery') -%}
        {#- their TIMESTAMP is an instant (time-zone aware); DATETIME / TIMESTAMP_NTZ is naive -#}
        {{ return('timestamptz') }}
    {%- endif -%}
    {%- set families = {
        'integer': ['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'hugeint', 'utinyint',
                    'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'int1', 'int2', 'int4', 'int8', 'int16',
                    'int32', 'int64', 'int128', 'long', 'short', 'byte', 'serial', 'smallserial', 'bigserial'],
        'float': ['double', 'double precision', 'float', 'float4', 'float8', 'float64', 'real'],
        'decimal': ['decimal', 'numeric', 'number', 'bignumeric', 'bigdecimal', 'money'],
        'text': ['varchar', 'character varying', 'char', 'character', 'nchar', 'nvarchar', 'text', 'string',
                 'bpchar', 'uuid'],
        'boolean': ['boolean', 'bool'],
        'date': ['date'],
        'time': ['time', 'timetz', 'time with time zone', 'time without time zone'],
        'timestamp': ['timestamp', 'datetime', 'timestamp without time zone', 'timestamp_ntz', 'timestamp_ns',
                      'timestamp_ms', 'timestamp_s'],
        'timestamptz': ['timestamptz', 'timestamp with time zone', 'timestamp_tz', 'timestamp_ltz'],
        'binary': ['blob', 'bytea', 'binary', 'varbinary', 'bytes'],
    } -%}
    {%- for family, names in families.items() -%}
        {%- if name in names -%}{{ return(family) }}{%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- TTL to {'ok': true, 'seconds': n or none} or {'ok': false}: the rule of contract/ttl.py. -#}
{% macro fw_ttl_parse(ttl) %}
    {%- if ttl is none or (ttl is string and ttl == '') -%}{{ return({'ok': true, 'seconds': none}) }}{%- endif -%}
    {%- if ttl is boolean -%}{{ return({'ok': false}) }}{%- endif -%}
    {%- if ttl is integer -%}
        {{ return({'ok': true, 'seconds': ttl} if ttl > 0 else {'ok': false}) }}
    {%- endif -%}
    {%- if ttl is not string -%}{{ return({'ok': false}) }}{%- endif -%}
    {#- [0-9], not \d (any Unicode digit); fullmatch: no spaces, tabs or trailing newline -#}
    {%- set m = modules.re.fullmatch('([0-9]+)([smhdw])', ttl) -%}
    {%- if not m or (m.group(1) | int) == 0 -%}{{ return({'ok': false}) }}{%- endif -%}
    {%- set units = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800} -%}
    {{ return({'ok': true, 'seconds': (m.group(1) | int) * units[m.group(2)]}) }}
{% endmacro %}


{#- One ref text to [view, feature], or none when malformed (the rule of refs.FeatureRef.parse). -#}
{% macro fw_parse_ref(text) %}
    {%- if text is not string -%}{{ return(none) }}{%- endif -%}
    {%- set parts = text.strip().split(':') -%}
    {%- if parts | length != 2 or not parts[0] or not parts[1]
           or modules.re.search('\\s', parts[0]) or modules.re.search('\\s', parts[1]) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return([parts[0], parts[1]]) }}
{% endmacro %}


{#-
  Expand refs by the rules of refs.expand_refs: {'selected': [[view, feature], ...]}, or
  {'error': code, 'ref': text, 'view': name, 'feature': name} with code one of
  malformed, unknown_view, unknown_feature, twice, no_features.
  `features_of`: {view name: [feature names in declared order]}.
-#}
{% macro fw_expand_refs(refs, features_of) %}
    {%- set selected = [] -%}
    {%- set seen = [] -%}
    {%- for text in refs -%}
        {%- set r = featurewarehouse.fw_parse_ref(text) -%}
        {%- if r is none -%}{{ return({'error': 'malformed', 'ref': text}) }}{%- endif -%}
        {%- if r[0] not in features_of -%}{{ return({'error': 'unknown_view', 'ref': text, 'view': r[0]}) }}{%- endif -%}
        {%- set names = features_of[r[0]] -%}
        {%- if r[1] == '*' -%}
            {%- if names | length == 0 -%}{{ return({'error': 'no_features', 'ref': text, 'view': r[0]}) }}{%- endif -%}
            {%- set wanted = names -%}
        {%- else -%}
            {%- if r[1] not in names -%}
                {{ return({'error': 'unknown_feature', 'ref': text, 'view': r[0], 'feature': r[1]}) }}
            {%- endif -%}
            {%- if (r[0] ~ ':' ~ r[1]) in seen -%}
                {{ return({'error': 'twice', 'ref': text, 'view': r[0], 'feature': r[1]}) }}
            {%- endif -%}
            {%- set wanted = [r[1]] -%}
        {%- endif -%}
        {%- for f in wanted -%}
            {%- if (r[0] ~ ':' ~ f) not in seen -%}
                {%- do seen.append(r[0] ~ ':' ~ f) -%}
                {%- do selected.append([r[0], f]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return({'selected': selected}) }}
{% endmacro %}


{#- Every case of tests/contract_cases run through the macros above, as JSON (the parity test's one dbt call). -#}
{% macro fw_contract_cases(types, ttls, refs, views) %}
    {%- set out = {'types': [], 'ttl': [], 'refs': []} -%}
    {%- for c in types -%}{%- do out['types'].append(featurewarehouse.fw_type_family(c[1], c[0])) -%}{%- endfor -%}
    {%- for c in ttls -%}{%- do out['ttl'].append(featurewarehouse.fw_ttl_parse(c)) -%}{%- endfor -%}
    {%- for c in refs -%}{%- do out['refs'].append(featurewarehouse.fw_expand_refs(c, views)) -%}{%- endfor -%}
    {{ return(tojson(out)) }}
{% endmacro %}
