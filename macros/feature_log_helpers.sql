{#-
  Helpers for the models that unpack the feature log (contract 4):
  values and entity keys are stored as JSON text.
-#}

{#- The text of one key of a JSON object column: '{"customer_id":42}' -> '42'. Portable (->> on json). -#}
{% macro fw_json_key_text(column, key) -%}
    {{ return(adapter.dispatch('fw_json_key_text', 'featurewarehouse')(column, key)) }}
{%- endmacro %}

{% macro default__fw_json_key_text(column, key) -%}
    (cast({{ column }} as json) ->> '{{ key }}')
{%- endmacro %}

{#- Spark has no json type; get_json_object reads the text. -#}
{% macro spark__fw_json_key_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}


{#- The text of a JSON scalar column: '"FR"' -> 'FR', '0.25' -> '0.25', null -> null. -#}
{% macro fw_json_scalar_text(column) -%}
    {{ return(adapter.dispatch('fw_json_scalar_text', 'featurewarehouse')(column)) }}
{%- endmacro %}

{% macro default__fw_json_scalar_text(column) -%}
    (cast({{ column }} as json) #>> '{}')
{%- endmacro %}

{#- Spark: get_json_object cannot read a bare scalar document, so wrap it in an object; a JSON
    string comes back unescaped, a number as written, a JSON null as null. -#}
{% macro spark__fw_json_scalar_text(column) -%}
    get_json_object(concat('{"v":', {{ column }}, '}'), '$.v')
{%- endmacro %}

{#- DuckDB has no #> operator; '$' is the JSONPath of the whole document. -#}
{% macro duckdb__fw_json_scalar_text(column) -%}
    (cast({{ column }} as json) ->> '$')
{%- endmacro %}


{#- A declared data_type as a cast target the warehouse accepts, by its contract family
    (fw_type_family): ubigint, int64, string ... cast as their family's portable type; a decimal keeps
    its precision; a name of no family is used as written. -#}
{% macro fw_cast_type(data_type) -%}
    {%- set family = featurewarehouse.fw_type_family(data_type or 'varchar') -%}
    {%- set portable = {'integer': 'bigint', 'float': featurewarehouse.fw_type_double(),
                        'text': featurewarehouse.fw_type_text(), 'boolean': 'boolean',
                        'date': 'date', 'timestamp': 'timestamp', 'timestamptz': featurewarehouse.fw_type_timestamptz()} -%}
    {{- portable.get(family, (data_type or 'varchar') | lower | trim) -}}
{%- endmacro %}


{#- The columns of the calling model whose config.meta.fw.served_from names a logged feature (view:feature). -#}
{% macro fw_served_columns(node) -%}
    {%- set served = [] -%}
    {%- for name, col in (node.columns or {}).items() -%}
        {%- set fw = featurewarehouse.fw_pit_fw_meta(col) -%}
        {%- if fw.get('served_from') -%}
            {#- one reference, by the contract's rule (fw_parse_ref): a wildcard names no single column -#}
            {%- set parts = featurewarehouse.fw_parse_ref(fw.get('served_from')) -%}
            {%- if parts is none or parts[1] == '*' -%}
                {{ exceptions.raise_compiler_error(node.original_file_path ~ ": column " ~ name
                    ~ ": config.meta.fw.served_from must be view:feature, got '" ~ fw.get('served_from') ~ "'") }}
            {%- endif -%}
            {%- do served.append({'name': col.get('name') or name, 'view': parts[0], 'feature': parts[1],
                                  'data_type': col.get('data_type')}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(served) }}
{%- endmacro %}
