select
    cast(null as bigint) as customer_id,
    cast(null as bigint) as merchant_id,
    cast(null as timestamp) as ts,
    cast(null as timestamp) as created_at,
    cast(null as bigint) as f_int,
    cast(null as {{ dbt.type_string() }}) as f_str,
    cast(null as {{ dbt.type_string() }}) as note
where 1 = 0
