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
