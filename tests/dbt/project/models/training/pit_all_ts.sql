-- Every view shape in one call, on a timestamp spine column.
{{ featurewarehouse.point_in_time_join(
    spine=ref('pit_spine'),
    spine_timestamp='event_ts',
    feature_service='all_views',
    full_feature_names=true) }}
