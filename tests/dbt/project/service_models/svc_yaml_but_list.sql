{{ featurewarehouse.point_in_time_join(spine=ref('pit_spine'), spine_timestamp='event_ts', features=['v_plain:f_int']) }}
