-- How well a customer knows a merchant, as of each of their transactions there
-- (composite key: customer_id and merchant_id). Backward-looking RANGE windows;
-- one row per (customer_id, merchant_id, event_ts), as in customer_spend_features.
with transactions as (

    select transaction_id, customer_id, merchant_id, event_ts, amount_usd
    from {{ ref('stg_transactions') }}

),

windows as (

    select
        customer_id,
        merchant_id,
        event_ts,
        transaction_id,
        count(*) over last_30d as pair_txn_count_30d,
        sum(amount_usd) over last_30d as pair_amount_sum_30d,
        count(*) over since_first as pair_txn_count_total
    from transactions
    window
        last_30d as (
            partition by customer_id, merchant_id order by event_ts
            range between interval '30 days' preceding and current row
        ),
        since_first as (
            partition by customer_id, merchant_id order by event_ts
            range between unbounded preceding and current row
        )

),

final as (

    -- one row per key and instant (same-second payments share their window values)
    select
        customer_id,
        merchant_id,
        event_ts,
        max(transaction_id) as transaction_id,
        max(pair_txn_count_30d) as pair_txn_count_30d,
        max(pair_amount_sum_30d) as pair_amount_sum_30d,
        max(pair_txn_count_total) as pair_txn_count_total
    from windows
    group by customer_id, merchant_id, event_ts

)

select * from final
