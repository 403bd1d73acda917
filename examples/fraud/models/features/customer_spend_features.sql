-- Trailing spend per customer as of each of their transactions (the current one
-- included). Every window is a RANGE over event time ending at the current row,
-- so it only looks backwards. Transactions of one customer at the same instant
-- are RANGE peers and see each other; one row per (customer_id, event_ts) is
-- kept, so the view's key is unique.
with transactions as (

    select transaction_id, customer_id, event_ts, amount_usd
    from {{ ref('stg_transactions') }}

),

windows as (

    select
        customer_id,
        event_ts,
        transaction_id,
        count(*) over last_1h as txn_count_1h,
        sum(amount_usd) over last_1h as amount_sum_1h,
        avg(amount_usd) over last_1h as amount_avg_1h,
        count(*) over last_24h as txn_count_24h,
        sum(amount_usd) over last_24h as amount_sum_24h,
        avg(amount_usd) over last_24h as amount_avg_24h,
        count(*) over last_7d as txn_count_7d,
        sum(amount_usd) over last_7d as amount_sum_7d,
        avg(amount_usd) over last_7d as amount_avg_7d,
        count(*) over last_30d as txn_count_30d,
        sum(amount_usd) over last_30d as amount_sum_30d,
        avg(amount_usd) over last_30d as amount_avg_30d
    from transactions
    window
        last_1h as (partition by customer_id order by event_ts range between interval '1 hour' preceding and current row),
        last_24h as (partition by customer_id order by event_ts range between interval '24 hours' preceding and current row),
        last_7d as (partition by customer_id order by event_ts range between interval '7 days' preceding and current row),
        last_30d as (partition by customer_id order by event_ts range between interval '30 days' preceding and current row)

),

final as (

    -- one row per customer and instant: same-second payments are RANGE peers with
    -- the same window values, so max() just picks that value
    select
        customer_id,
        event_ts,
        max(transaction_id) as transaction_id,
        max(txn_count_1h) as txn_count_1h,
        max(amount_sum_1h) as amount_sum_1h,
        max(amount_avg_1h) as amount_avg_1h,
        max(txn_count_24h) as txn_count_24h,
        max(amount_sum_24h) as amount_sum_24h,
        max(amount_avg_24h) as amount_avg_24h,
        max(txn_count_7d) as txn_count_7d,
        max(amount_sum_7d) as amount_sum_7d,
        max(amount_avg_7d) as amount_avg_7d,
        max(txn_count_30d) as txn_count_30d,
        max(amount_sum_30d) as amount_sum_30d,
        max(amount_avg_30d) as amount_avg_30d
    from windows
    group by customer_id, event_ts

)

select * from final
