{{ featurewarehouse.point_in_time_join(spine=ref('pit_spine'), spine_timestamp='event_ts', features=['v_ttl:f_int', 'v_pair:f_str']) }}
