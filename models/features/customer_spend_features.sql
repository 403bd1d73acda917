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
        row_number() over (partition by customer_id, event_ts order by transaction_id desc) as nth_at_instant,
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

    select
        customer_id,
        event_ts,
        transaction_id,
        txn_count_1h, amount_sum_1h, amount_avg_1h,
        txn_count_24h, amount_sum_24h, amount_avg_24h,
        txn_count_7d, amount_sum_7d, amount_avg_7d,
        txn_count_30d, amount_sum_30d, amount_avg_30d
    from windows
    where nth_at_instant = 1

)

select * from final
