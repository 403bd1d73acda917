-- every aggregation, with and without filters, over bounded and lifetime windows
{{ featurewarehouse.rolling_features(
    source=ref('events'), entity='customer', timestamp='ts',
    aggregations=[
        {'agg': 'count'},
        {'agg': 'count', 'column': 'amount', 'name': 'amount_count'},
        {'agg': 'count', 'filter': "category = 'a'", 'name': 'a_count'},
        {'agg': 'sum', 'column': 'amount'},
        {'agg': 'sum', 'column': 'amount', 'filter': 'amount > 1', 'name': 'big_sum'},
        {'agg': 'avg', 'column': 'amount'},
        {'agg': 'min', 'column': 'amount'},
        {'agg': 'max', 'column': 'amount'},
        {'agg': 'stddev', 'column': 'amount'},
        {'agg': 'count_distinct', 'column': 'category'},
        {'agg': 'count_distinct', 'column': 'merchant_id', 'filter': 'amount >= 0', 'name': 'paid_merchants', 'windows': ['10m', 'lifetime']},
        {'agg': 'last', 'column': 'amount'},
        {'agg': 'last', 'column': 'category', 'data_type': 'varchar', 'filter': 'amount > 0', 'name': 'paid_category'},
        {'agg': 'min', 'column': 'category', 'data_type': 'varchar'},
        {'agg': 'max', 'column': 'category', 'data_type': 'varchar', 'windows': ['1h']},
    ],
    windows=['10m', '1h', 'lifetime'],
    passthrough=['merchant_id']) }}
