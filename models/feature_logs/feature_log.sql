{{ config(pre_hook="{{ featurewarehouse.fw_ensure_feature_log_raw() }}") }}
-- Served feature vectors (contract 4): one row per served entity row x feature.
-- DuckDB reads the Parquet files under vars.fw.feature_log_path; PostgreSQL reads
-- <schema>_raw.feature_log_raw (loaded by fwctl, created empty by the pre-hook).
-- With no logs yet the model builds empty, with the same columns.
{%- set log_source = source('fw_logs', 'feature_log_raw') %}
{%- set has_logs = true %}
{%- if target.type == 'duckdb' %}
    {%- set has_logs = false %}
    {%- if execute %}
        {%- set pattern = featurewarehouse.fw_setting_path("feature_log_path", "data/feature_logs") ~ '/*.parquet' %}
        {%- set found = run_query("select count(*) from glob('" ~ pattern | replace("'", "''") ~ "')") %}
        {%- set has_logs = found.columns[0].values()[0] > 0 %}
    {%- endif %}
{%- endif %}

with logged as (

{%- if has_logs and target.type == 'duckdb' %}

    -- by name, over an empty row of every contract column: files written before a column
    -- existed (feature_service) read it as null
    select
    {%- for name, type in featurewarehouse.fw_feature_log_columns() %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where 1 = 0
    union all by name
    select * from {{ log_source }}

{%- elif has_logs %}

    select * from {{ log_source }}

{%- else %}

    -- no served vectors logged yet
    select
    {%- for name, type in featurewarehouse.fw_feature_log_columns() %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where 1 = 0

{%- endif %}

),

final as (

    select
    {%- for name, type in featurewarehouse.fw_feature_log_columns() %}
        cast({{ name }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    from logged

)

select * from final
