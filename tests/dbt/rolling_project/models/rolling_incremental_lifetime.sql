-- a lifetime window: an incremental build reads every row of the entities with new rows
{{ config(materialized='incremental') }}
{{ featurewarehouse.rolling_features(
    source=ref('events'), entity='customer', timestamp='ts',
    aggregations=[
        {'agg': 'count'},
        {'agg': 'max', 'column': 'amount'},
        {'agg': 'count_distinct', 'column': 'category'},
        {'agg': 'last', 'column': 'amount'},
    ],
    windows=['10m', 'lifetime'], exclusive=true) }}
