{{ featurewarehouse.point_in_time_join(
    spine=ref('spine_labels'),
    spine_timestamp='event_ts',
    feature_service='fraud_features',
) }}
