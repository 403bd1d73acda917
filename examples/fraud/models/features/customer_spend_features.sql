-- Trailing spend per customer as of each of their transactions (the current one
-- included): RANGE windows over event time that only look backwards (see
-- docs/rolling-windows.md). Payments of one customer in the same instant share
-- one row and see each other; transaction_id is the highest of them.
{{ featurewarehouse.rolling_features(
    source=ref('stg_transactions'), entity='customer', timestamp='event_ts',
    aggregations=[
        {'agg': 'count', 'name': 'txn_count',
         'description': 'Card transactions in the trailing {window}, this one included.',
         'checks': {'not_null': true, 'min': 1}},
        {'agg': 'sum', 'column': 'amount_usd', 'name': 'amount_sum',
         'description': 'USD spent in the trailing {window}.',
         'checks': {'not_null': true, 'min': 0}},
        {'agg': 'avg', 'column': 'amount_usd', 'name': 'amount_avg',
         'description': 'Average USD amount per transaction in the trailing {window}.',
         'checks': {'not_null': true, 'min': 0}},
    ],
    windows=['1h', '24h', '7d', '30d'],
    passthrough=['transaction_id']) }}
