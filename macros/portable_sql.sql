{#-
  Small SQL pieces whose spelling differs between warehouses, for the package's and the
  demo's models. DuckDB and PostgreSQL share the default__ bodies (so their builds stay
  identical); Spark gets its own where it does not parse the standard spelling.
-#}

{#- An 8-byte float type name: `double precision` (standard), `double` on Spark. -#}
{% macro fw_type_double() -%}
    {{ return(adapter.dispatch('fw_type_double', 'featurewarehouse')()) }}
{%- endmacro %}

{% macro default__fw_type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro spark__fw_type_double() -%}
    {{ return('double') }}
{%- endmacro %}


{#- A variable-length text type name: `varchar`, `string` on Spark (whose varchar needs a length). -#}
{% macro fw_type_text() -%}
    {{ return(adapter.dispatch('fw_type_text', 'featurewarehouse')()) }}
{%- endmacro %}

{% macro default__fw_type_text() -%}
    {{ return('varchar') }}
{%- endmacro %}

{% macro spark__fw_type_text() -%}
    {{ return('string') }}
{%- endmacro %}


{#- Seconds elapsed from timestamp `start` to timestamp `end` (fractions kept), as a number.
    dbt.datediff counts boundaries crossed, not elapsed time, so it cannot replace this. -#}
{% macro fw_seconds_between(start, end) -%}
    {{ return(adapter.dispatch('fw_seconds_between', 'featurewarehouse')(start, end)) }}
{%- endmacro %}

{% macro default__fw_seconds_between(start, end) -%}
    extract(epoch from ({{ end }} - {{ start }}))
{%- endmacro %}

{#- Spark has no epoch field in extract; unix_micros keeps the microseconds. -#}
{% macro spark__fw_seconds_between(start, end) -%}
    ((unix_micros({{ end }}) - unix_micros({{ start }})) / 1000000.0)
{%- endmacro %}


{#- A time-zone-aware timestamp type name: Spark's `timestamp` is the instant type. -#}
{% macro fw_type_timestamptz() -%}
    {{ return(adapter.dispatch('fw_type_timestamptz', 'featurewarehouse')()) }}
{%- endmacro %}

{% macro default__fw_type_timestamptz() -%}
    {{ return('timestamp with time zone') }}
{%- endmacro %}

{% macro spark__fw_type_timestamptz() -%}
    {{ return('timestamp') }}
{%- endmacro %}
