-- How well a customer knows a merchant, as of each of their transactions there
-- (composite key: customer_id and merchant_id): trailing windows that only look
-- backwards (see docs/rolling-windows.md). Payments of one pair in the same
-- instant share one row; transaction_id is the highest of them.
{{ featurewarehouse.rolling_features(
    source=ref('stg_transactions'), entity=['customer', 'merchant'], timestamp='event_ts',
    aggregations=[
        {'agg': 'count', 'name': 'pair_txn_count', 'windows': ['30d'],
         'description': 'Transactions of this customer at this merchant in the trailing 30 days, this one included.',
         'checks': {'not_null': true, 'min': 1}},
        {'agg': 'sum', 'column': 'amount_usd', 'name': 'pair_amount_sum', 'windows': ['30d'],
         'description': 'USD this customer spent at this merchant in the trailing 30 days.',
         'checks': {'not_null': true, 'min': 0}},
        {'agg': 'count', 'name': 'pair_txn_count', 'windows': ['lifetime'],
         'description': 'Transactions of this customer at this merchant since the data begins, this one included (1 = a new merchant for the customer).',
         'checks': {'not_null': true, 'min': 1}},
    ],
    passthrough=['transaction_id']) }}
