select cast(null as bigint) as customer_id, cast(null as timestamp) as event_ts where 1 = 0
