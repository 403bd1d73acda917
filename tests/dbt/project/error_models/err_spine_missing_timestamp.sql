{{ featurewarehouse.point_in_time_join(spine=ref('pit_spine'), spine_timestamp='evt_ts', features=['v_plain:f_int']) }}
