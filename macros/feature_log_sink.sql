{#-
  The served-vector log sink the package's feature_log model reads (contract 4).
  Settings come from the installing project's vars.fw; FW_<KEY> environment
  variables override them, as in fwctl's configuration.
-#}

{#- A path setting from vars.fw (FW_<KEY> overrides it), or `default` when the project sets none.
    dbt leaves an env_var call inside vars unrendered; the one the templates use is resolved here. -#}
{% macro fw_setting_path(key, default) -%}
    {%- set override = env_var('FW_' ~ key | upper, '') -%}
    {%- if override -%}{{ return(override) }}{%- endif -%}
    {%- set value = (var('fw', {}) or {}).get(key) or default -%}
    {{- return(value | replace("{{ env_var('FW_DATA_DIR', 'data') }}", env_var('FW_DATA_DIR', 'data'))) -}}
{%- endmacro %}


{#- The feature-log contract (contract 4): name -> SQL type, in order. -#}
{% macro fw_feature_log_columns() -%}
    {{ return([
        ('request_id', featurewarehouse.fw_type_text()),
        ('served_at', 'timestamp'),
        ('row_index', 'integer'),
        ('entity_keys', featurewarehouse.fw_type_text()),
        ('feature_view', featurewarehouse.fw_type_text()),
        ('feature_name', featurewarehouse.fw_type_text()),
        ('value', featurewarehouse.fw_type_text()),
        ('status', featurewarehouse.fw_type_text()),
        ('event_ts', 'timestamp'),
        ('feature_service', featurewarehouse.fw_type_text()),
    ]) }}
{%- endmacro %}


{#- On warehouses that cannot read Parquet (PostgreSQL), served vectors are loaded into
    <schema>_raw.feature_log_raw; create it empty so feature_log builds before anything
    was served. DuckDB reads the Parquet files directly: nothing to do. -#}
{% macro fw_ensure_feature_log_raw() -%}
    {{ return(adapter.dispatch('fw_ensure_feature_log_raw', 'featurewarehouse')()) }}
{%- endmacro %}

{% macro default__fw_ensure_feature_log_raw() -%}
    {%- if target.type != 'duckdb' -%}
        {%- set relation = source('fw_logs', 'feature_log_raw') -%}
        create schema if not exists {{ adapter.quote(relation.schema) }};
        create table if not exists {{ relation }} (
        {%- for name, type in featurewarehouse.fw_feature_log_columns() %}
            {{ name }} {{ type }}{{ "," if not loop.last }}
        {%- endfor %}
        );
        {#- a table created before a column joined the contract gets it (null in the rows it holds) #}
        {%- for name, type in featurewarehouse.fw_feature_log_columns() %}
        alter table {{ relation }} add column if not exists {{ name }} {{ type }};
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}


{#- Spark runs one statement per call and has no `add column if not exists`: run each statement
    here and add only the contract columns the table lacks. The hook itself renders empty. -#}
{% macro spark__fw_ensure_feature_log_raw() -%}
    {%- if execute -%}
        {%- set relation = source('fw_logs', 'feature_log_raw') -%}
        {%- do run_query('create schema if not exists ' ~ adapter.quote(relation.schema)) -%}
        {%- set columns = [] -%}
        {%- for name, type in featurewarehouse.fw_feature_log_columns() -%}
            {%- do columns.append(name ~ ' ' ~ type) -%}
        {%- endfor -%}
        {%- do run_query('create table if not exists ' ~ relation ~ ' (' ~ columns | join(', ') ~ ')') -%}
        {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- set missing = [] -%}
        {%- for name, type in featurewarehouse.fw_feature_log_columns() -%}
            {%- if name not in existing -%}{%- do missing.append(name ~ ' ' ~ type) -%}{%- endif -%}
        {%- endfor -%}
        {%- if missing -%}
            {%- do run_query('alter table ' ~ relation ~ ' add columns (' ~ missing | join(', ') ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
