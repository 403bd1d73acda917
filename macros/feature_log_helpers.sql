{#-
  Helpers for the models that unpack the feature log (contract 4):
  values and entity keys are stored as JSON text.
-#}

{#- The text of one key of a JSON object column: '{"customer_id":42}' -> '42'. Portable (->> on json). -#}
{% macro fw_json_key_text(column, key) -%}
    (cast({{ column }} as json) ->> '{{ key }}')
{%- endmacro %}


{#- The text of a JSON scalar column: '"FR"' -> 'FR', '0.25' -> '0.25', null -> null. -#}
{% macro fw_json_scalar_text(column) -%}
    {{ return(adapter.dispatch('fw_json_scalar_text', 'featurewarehouse')(column)) }}
{%- endmacro %}

{% macro default__fw_json_scalar_text(column) -%}
    (cast({{ column }} as json) #>> '{}')
{%- endmacro %}

{#- DuckDB has no #> operator; '$' is the JSONPath of the whole document. -#}
{% macro duckdb__fw_json_scalar_text(column) -%}
    (cast({{ column }} as json) ->> '$')
{%- endmacro %}


{#- A declared data_type as a cast target both DuckDB and PostgreSQL accept. -#}
{% macro fw_cast_type(data_type) -%}
    {%- set t = (data_type or 'varchar') | lower | trim -%}
    {{- {'double': 'double precision', 'float8': 'double precision', 'string': 'varchar', 'text': 'varchar'}.get(t, t) -}}
{%- endmacro %}


{#- The columns of the calling model whose config.meta.fw.served_from names a logged feature (view:feature). -#}
{% macro fw_served_columns(node) -%}
    {%- set served = [] -%}
    {%- for name, col in (node.columns or {}).items() -%}
        {%- set fw = ((col.get('config') or {}).get('meta') or {}).get('fw') or (col.get('meta') or {}).get('fw') or {} -%}
        {%- if fw.get('served_from') -%}
            {%- set parts = fw.get('served_from').split(':') -%}
            {%- if parts | length != 2 -%}
                {{ exceptions.raise_compiler_error(node.original_file_path ~ ": column " ~ name
                    ~ ": config.meta.fw.served_from must be view:feature, got '" ~ fw.get('served_from') ~ "'") }}
            {%- endif -%}
            {%- do served.append({'name': col.get('name') or name, 'view': parts[0], 'feature': parts[1],
                                  'data_type': col.get('data_type')}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(served) }}
{%- endmacro %}
