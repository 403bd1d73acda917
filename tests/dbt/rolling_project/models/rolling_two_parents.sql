-- a rolling view that refs a second model ({{ ref('spine') }}): a training set cannot tell
-- which parent is its source (tests/dbt/test_rolling_pit.py checks the error)
{{ featurewarehouse.rolling_features(
    source=ref('events'), entity='customer', timestamp='ts', aggregations=[{'agg': 'count'}], windows=['1h']) }}
