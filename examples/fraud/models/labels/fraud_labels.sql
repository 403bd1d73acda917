-- Label per transaction: was it reported as fraud within 30 days? The label
-- becomes known at the first fraud report (positives) or when the 30-day window
-- closes without one (negatives). Only matured transactions (window closed by
-- the time of the data) are labelled, so recent ones are not counted as clean.
with transactions as (

    select transaction_id, customer_id, merchant_id, event_ts, ingested_at
    from {{ ref('stg_transactions') }}

),

fraud_reports as (

    select transaction_id, min(reported_at) as first_reported_at
    from {{ ref('stg_chargebacks') }}
    where reason = 'fraud'
    group by 1

),

data_as_of as (

    select max(ingested_at) as as_of from transactions

),

labelled as (

    select
        t.transaction_id,
        t.customer_id,
        t.merchant_id,
        t.event_ts,
        coalesce(f.first_reported_at <= t.event_ts + interval '30 days', false) as is_fraud,
        case
            when f.first_reported_at <= t.event_ts + interval '30 days' then f.first_reported_at
            else t.event_ts + interval '30 days'
        end as label_available_at
    from transactions as t
    left join fraud_reports as f
        on f.transaction_id = t.transaction_id

),

final as (

    select labelled.*
    from labelled
    cross join data_as_of
    where labelled.event_ts + interval '30 days' <= data_as_of.as_of

)

select * from final
