-- Merchant risk as a daily snapshot at midnight UTC (feature_ts): over the 90
-- days before feature_ts, how many transactions the merchant had and how many
-- of those had been charged back *by feature_ts*. A chargeback reported later
-- is invisible until the first snapshot after its reported_at: no leakage.
with transactions as (

    select merchant_id, event_ts from {{ ref('stg_transactions') }}

),

chargebacks as (

    select merchant_id, transaction_event_ts, reported_at, reason
    from {{ ref('stg_chargebacks') }}

),

merchants as (

    select merchant_id, created_at from {{ ref('stg_merchants') }}

),

snapshot_days as (

    -- every midnight after a day with data: the day's transactions are known then
    select distinct cast(date_trunc('day', event_ts) as timestamp) + interval '1 day' as feature_ts
    from transactions

),

merchant_days as (

    select m.merchant_id, d.feature_ts
    from merchants as m
    cross join snapshot_days as d
    where d.feature_ts > m.created_at

),

daily_transactions as (

    -- a day's transactions become visible at the next midnight
    select
        merchant_id,
        cast(date_trunc('day', event_ts) as timestamp) + interval '1 day' as visible_at,
        count(*) as txn_count
    from transactions
    group by 1, 2

),

transaction_windows as (

    -- snapshots at d-89 .. d see the days d-90 .. d-1: the 90 days before d
    select
        md.merchant_id,
        md.feature_ts,
        coalesce(sum(dt.txn_count) over (
            partition by md.merchant_id order by md.feature_ts
            range between interval '89 days' preceding and current row
        ), 0) as merchant_txn_count_90d
    from merchant_days as md
    left join daily_transactions as dt
        on dt.merchant_id = md.merchant_id
        and dt.visible_at = md.feature_ts

),

reported_chargebacks as (

    -- chargebacks on the window's transactions that were reported by feature_ts
    select
        md.merchant_id,
        md.feature_ts,
        count(*) as chargeback_count,
        sum(case when cb.reason = 'fraud' then 1 else 0 end) as fraud_report_count
    from merchant_days as md
    inner join chargebacks as cb
        on cb.merchant_id = md.merchant_id
        and cb.reported_at <= md.feature_ts
        and cb.transaction_event_ts >= md.feature_ts - interval '90 days'
        and cb.transaction_event_ts < md.feature_ts
    group by 1, 2

),

final as (

    select
        tw.merchant_id,
        tw.feature_ts,
        cast(tw.merchant_txn_count_90d as bigint) as merchant_txn_count_90d,
        cast(coalesce(rc.chargeback_count, 0) as bigint) as merchant_chargeback_count_90d,
        cast(coalesce(rc.fraud_report_count, 0) as bigint) as merchant_fraud_report_count_90d,
        case
            when tw.merchant_txn_count_90d > 0
                then cast(coalesce(rc.chargeback_count, 0) as {{ featurewarehouse.fw_type_double() }}) / tw.merchant_txn_count_90d
        end as chargeback_rate_90d
    from transaction_windows as tw
    left join reported_chargebacks as rc
        on rc.merchant_id = tw.merchant_id
        and rc.feature_ts = tw.feature_ts

)

select * from final
