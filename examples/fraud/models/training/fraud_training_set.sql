-- Fraud training set: every matured labelled transaction with the features as
-- they were at the transaction's time (point-in-time join, no leakage). The
-- feature list is also declared in fraud_training_set.yml (meta.fw.features).
{{ featurewarehouse.point_in_time_join(
    spine=ref('fraud_labels'),
    spine_timestamp='event_ts',
    features=[
        'customer_spend_features:*',
        'customer_profile_features:*',
        'customer_merchant_features:*',
        'merchant_risk_features:chargeback_rate_90d',
        'merchant_risk_features:merchant_txn_count_90d',
    ],
    full_feature_names=false,
) }}
