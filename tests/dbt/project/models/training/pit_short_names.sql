-- Short feature names (no clash), a single feature of a view, and a CTE around the macro.
with joined as (
    {{ featurewarehouse.point_in_time_join(
        spine=ref('pit_spine'),
        spine_timestamp='event_ts',
        feature_service='short_names') }}
)
select * from joined
