-- window features at the spine's time (tests/dbt/test_rolling_pit.py), every rolling view
{{ featurewarehouse.point_in_time_join(
    spine=ref('spine'), spine_timestamp='label_ts',
    features=['rolling_all:*', 'rolling_exclusive:*', 'rolling_incremental:*', 'rolling_incremental_lifetime:*'],
    full_feature_names=true) }}
