{{ featurewarehouse.point_in_time_join(spine=ref('pit_spine'), spine_timestamp='event_ts', feature_service='svc_pair') }}
