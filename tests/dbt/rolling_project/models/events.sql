select
    cast(null as bigint) as customer_id,
    cast(null as bigint) as merchant_id,
    cast(null as timestamp) as ts,
    cast(null as {{ featurewarehouse.fw_type_double() }}) as amount,
    cast(null as {{ featurewarehouse.fw_type_text() }}) as category
where 1 = 0
