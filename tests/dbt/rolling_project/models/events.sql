select
    cast(null as bigint) as customer_id,
    cast(null as bigint) as merchant_id,
    cast(null as timestamp) as ts,
    cast(null as double precision) as amount,
    cast(null as varchar) as category
where 1 = 0
