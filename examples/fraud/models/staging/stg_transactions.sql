-- Card transactions, one row per transaction_id.
-- The processor redelivers a few transactions (same id, later ingested_at):
-- keep the first delivery. Late arrivals keep their original event_ts.
with source as (

    select * from {{ source('raw', 'transactions') }}

),

deliveries as (

    select
        *,
        row_number() over (
            partition by transaction_id
            order by ingested_at, event_ts
        ) as delivery_number
    from source

),

final as (

    select
        cast(transaction_id as bigint) as transaction_id,
        cast(customer_id as bigint) as customer_id,
        cast(merchant_id as bigint) as merchant_id,
        cast(amount as {{ featurewarehouse.fw_type_double() }}) as amount,
        cast(currency as varchar(3)) as currency,
        cast(amount as {{ featurewarehouse.fw_type_double() }}) / {{ demo_units_per_usd('currency') }} as amount_usd,
        cast(country as varchar(2)) as country,
        cast(channel as varchar(16)) as channel,
        cast(event_ts as timestamp) as event_ts,
        cast(ingested_at as timestamp) as ingested_at
    from deliveries
    where delivery_number = 1

)

select * from final
