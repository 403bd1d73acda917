-- the training-set spine of tests/dbt/test_rolling_pit.py: filled per example
select
    cast(null as bigint) as label_id,
    cast(null as bigint) as customer_id,
    cast(null as bigint) as merchant_id,
    cast(null as timestamp) as label_ts
where 1 = 0
