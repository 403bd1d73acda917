select
    cast(null as bigint) as row_tag,
    cast(null as bigint) as customer_id,
    cast(null as bigint) as merchant_id,
    cast(null as timestamp) as event_ts,
    cast(null as date) as event_day
where 1 = 0
