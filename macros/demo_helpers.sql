{#- Helpers for the card-payments demo models. Portable SQL; no adapter overrides needed. -#}

{% macro demo_units_per_usd(currency_column) -%}
    {#- Fixed demo exchange rates (units of the currency per USD), the same the generator used. -#}
    {%- set rates = {'USD': 1.0, 'GBP': 0.79, 'EUR': 0.92, 'CAD': 1.36, 'AUD': 1.52,
                     'JPY': 150.0, 'BRL': 5.0, 'MXN': 17.0, 'SEK': 10.5} -%}
    case {{ currency_column }}
    {%- for code, rate in rates.items() | sort %}
        when '{{ code }}' then {{ rate }}
    {%- endfor %}
    end
{%- endmacro %}


{% macro demo_fw_path(key) -%}
    {#- A path from vars.fw, with the env_var call dbt leaves unrendered inside vars resolved.
        FW_<KEY> (e.g. FW_FEATURE_LOG_PATH) overrides it, as in fwctl's config. -#}
    {%- set override = env_var('FW_' ~ key | upper, '') -%}
    {%- if override -%}{{ return(override) }}{%- endif -%}
    {%- set value = var('fw', {}).get(key) -%}
    {%- if value is none -%}
        {{ exceptions.raise_compiler_error("demo_fw_path: vars.fw." ~ key ~ " is not set in dbt_project.yml; add it (e.g. data/feature_logs)") }}
    {%- endif -%}
    {{- value | replace("{{ env_var('FW_DATA_DIR', 'data') }}", env_var('FW_DATA_DIR', 'data')) -}}
{%- endmacro %}


{% macro demo_feature_log_columns() -%}
    {#- The feature-log contract (contract 4): name -> SQL type, in order. -#}
    {{ return([
        ('request_id', 'varchar'),
        ('served_at', 'timestamp'),
        ('row_index', 'integer'),
        ('entity_keys', 'varchar'),
        ('feature_view', 'varchar'),
        ('feature_name', 'varchar'),
        ('value', 'varchar'),
        ('status', 'varchar'),
        ('event_ts', 'timestamp'),
    ]) }}
{%- endmacro %}


{% macro demo_ensure_feature_log_raw() -%}
    {#- On warehouses that cannot read Parquet (PostgreSQL), served vectors are loaded
        into <schema>_raw.feature_log_raw; create it empty so feature_log builds before
        anything was served. DuckDB reads the Parquet files directly: nothing to do. -#}
    {%- if target.type != 'duckdb' -%}
        {%- set relation = source('fw_logs', 'feature_log_raw') -%}
        create schema if not exists {{ adapter.quote(relation.schema) }};
        create table if not exists {{ relation }} (
        {%- for name, type in featurewarehouse.demo_feature_log_columns() %}
            {{ name }} {{ type }}{{ "," if not loop.last }}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
