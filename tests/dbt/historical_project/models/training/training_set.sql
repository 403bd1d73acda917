{{ featurewarehouse.point_in_time_join(
    spine=ref('spine_labels'),
    spine_timestamp='event_ts',
    features=['customer_features:*', 'merchant_features:chargeback_rate', 'customer_merchant_features:pair_txn_count'],
) }}
