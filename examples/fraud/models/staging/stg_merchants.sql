-- Merchants, typed.
with source as (

    select * from {{ source('raw', 'merchants') }}

),

final as (

    select
        cast(merchant_id as bigint) as merchant_id,
        cast(merchant_name as varchar(64)) as merchant_name,
        cast(category as varchar(32)) as category,
        cast(country as varchar(2)) as country,
        cast(created_at as timestamp) as created_at
    from source

)

select * from final
