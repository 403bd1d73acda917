-- bounded windows only: an incremental build reads back the longest window (1h)
{{ config(materialized='incremental') }}
{{ featurewarehouse.rolling_features(
    source=ref('events'), entity='customer', timestamp='ts',
    aggregations=[
        {'agg': 'count'},
        {'agg': 'sum', 'column': 'amount'},
        {'agg': 'stddev', 'column': 'amount'},
        {'agg': 'count_distinct', 'column': 'category'},
        {'agg': 'last', 'column': 'category', 'data_type': 'varchar'},
    ],
    windows=['10m', '1h']) }}
