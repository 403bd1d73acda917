select cast(null as bigint) as customer_id, cast(null as timestamp) as ts, cast(null as bigint) as f_int where 1 = 0
