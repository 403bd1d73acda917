-- Chargebacks (fraud reports and disputes), one row per chargeback_id, with
-- the transaction's customer, merchant and event time attached.
-- Some reports are sent twice: keep one.
with source as (

    select * from {{ source('raw', 'chargebacks') }}

),

reports as (

    select
        *,
        row_number() over (partition by chargeback_id order by reported_at) as report_number
    from source

),

transactions as (

    select transaction_id, customer_id, merchant_id, event_ts
    from {{ ref('stg_transactions') }}

),

final as (

    select
        cast(r.chargeback_id as bigint) as chargeback_id,
        cast(r.transaction_id as bigint) as transaction_id,
        t.customer_id,
        t.merchant_id,
        t.event_ts as transaction_event_ts,
        cast(r.reported_at as timestamp) as reported_at,
        cast(r.reason as varchar(16)) as reason,
        cast(r.amount as {{ featurewarehouse.fw_type_double() }}) as amount,
        cast(r.currency as varchar(3)) as currency
    from reports as r
    inner join transactions as t
        on t.transaction_id = r.transaction_id
    where r.report_number = 1

)

select * from final
