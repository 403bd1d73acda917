{{ featurewarehouse.point_in_time_join(spine=ref('err_spine_no_merchant'), spine_timestamp='event_ts', features=['v_merchant:f_int']) }}
