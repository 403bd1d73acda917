-- Customer versions (a slowly changing dimension): each row is valid from
-- updated_at until the next version's updated_at (valid_to null = current).
with source as (

    select * from {{ source('raw', 'customers') }}

),

versions as (

    select
        cast(customer_id as bigint) as customer_id,
        cast(home_country as varchar(2)) as home_country,
        cast(card_type as varchar(16)) as card_type,
        cast(credit_limit as {{ featurewarehouse.fw_type_double() }}) as credit_limit,
        cast(signup_ts as timestamp) as signup_ts,
        cast(updated_at as timestamp) as valid_from,
        row_number() over (partition by customer_id, updated_at order by card_type) as copy_number
    from source

),

final as (

    select
        customer_id,
        home_country,
        card_type,
        credit_limit,
        signup_ts,
        valid_from,
        lead(valid_from) over (partition by customer_id order by valid_from) as valid_to
    from versions
    where copy_number = 1

)

select * from final
