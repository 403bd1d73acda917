-- inclusive windows only (Spark has no EXCLUDE GROUP): the view tests/spark/test_rolling_pit_spark.py joins
{{ featurewarehouse.rolling_features(
    source=ref('events'), entity='customer', timestamp='ts',
    aggregations=[
        {'agg': 'count'},
        {'agg': 'sum', 'column': 'amount'},
        {'agg': 'avg', 'column': 'amount', 'filter': "category <> 'a'"},
        {'agg': 'stddev', 'column': 'amount'},
        {'agg': 'count_distinct', 'column': 'category'},
        {'agg': 'last', 'column': 'amount'},
    ],
    windows=['10m', '1h']) }}
