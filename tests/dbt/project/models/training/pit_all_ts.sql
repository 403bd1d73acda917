-- Every view shape in one call, on a timestamp spine column.
{{ featurewarehouse.point_in_time_join(
    spine=ref('pit_spine'),
    spine_timestamp='event_ts',
    features=['v_plain:*', 'v_ttl:*', 'v_avail:*', 'v_avail_nottl:*', 'v_pair:*', 'v_merchant:*'],
    full_feature_names=true) }}
