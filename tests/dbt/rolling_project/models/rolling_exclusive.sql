-- the row's own instant left out; a composite entity (both keys)
{{ featurewarehouse.rolling_features(
    source=ref('events'), entity=['customer', 'merchant'], timestamp='ts',
    aggregations=[
        {'agg': 'count'},
        {'agg': 'sum', 'column': 'amount'},
        {'agg': 'avg', 'column': 'amount', 'filter': "category <> 'a'"},
        {'agg': 'stddev', 'column': 'amount'},
        {'agg': 'count_distinct', 'column': 'category'},
        {'agg': 'last', 'column': 'amount'},
        {'agg': 'max', 'column': 'category', 'data_type': 'varchar'},
    ],
    windows=['5m', '1h', 'lifetime'], exclusive=true) }}
