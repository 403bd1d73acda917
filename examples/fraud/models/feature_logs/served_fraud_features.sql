-- The fraud model's features as they were served: the feature log pivoted to one
-- row per served vector. Which logged feature fills which column is declared in
-- the YAML (config.meta.fw.served_from on each column), the one list to edit.
-- Values are logged as JSON text and cast back to the declared data types.
{%- set served = featurewarehouse.fw_served_columns(model) if execute else [] %}

with logged as (

    select request_id, row_index, feature_view, feature_name, value
    from {{ ref('feature_log') }}

),

vectors as (

    select request_id, row_index, served_at, customer_id, merchant_id
    from {{ ref('feature_log_vectors') }}
    -- a vector trains the fraud model only if it was served for a (customer, merchant) pair
    where customer_id is not null and merchant_id is not null

),

pivoted as (

    select
        request_id,
        row_index
        {%- for f in served %},
        max(case when feature_view = '{{ f.view }}' and feature_name = '{{ f.feature }}' then value end) as {{ f.name }}
        {%- endfor %}
    from logged
    group by request_id, row_index

),

final as (

    select
        vectors.customer_id,
        vectors.merchant_id,
        vectors.served_at,
        vectors.request_id as served_request_id
        {%- for f in served %},
        cast({{ featurewarehouse.fw_json_scalar_text('pivoted.' ~ f.name) }} as {{ featurewarehouse.fw_cast_type(f.data_type) }}) as {{ f.name }}
        {%- endfor %}
    from vectors
    inner join pivoted
        on pivoted.request_id = vectors.request_id
        and pivoted.row_index = vectors.row_index

)

select * from final
