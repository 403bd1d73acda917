-- Fraud training set: every matured labelled transaction with the features as
-- they were at the transaction's time (point-in-time join, no leakage). The
-- feature list is the feature service fraud_model (dbt_project.yml,
-- vars.fw.feature_services), which fraud_training_set.yml names too.
{{ featurewarehouse.point_in_time_join(
    spine=ref('fraud_labels'),
    spine_timestamp='event_ts',
    feature_service='fraud_model',
    full_feature_names=false,
) }}
