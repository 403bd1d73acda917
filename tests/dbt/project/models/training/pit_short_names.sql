-- Short feature names (no clash), a single feature of a view, and a CTE around the macro.
with joined as (
    {{ featurewarehouse.point_in_time_join(
        spine=ref('pit_spine'),
        spine_timestamp='event_ts',
        features=['v_ttl:f_int', 'v_pair:f_str']) }}
)
select * from joined
