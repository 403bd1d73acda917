-- The same on a DATE spine column (midnight UTC).
{{ featurewarehouse.point_in_time_join(
    spine=ref('pit_spine'),
    spine_timestamp='event_day',
    feature_service='all_views',
    full_feature_names=true) }}
