-- The portable default__ body on every engine (on DuckDB the dispatch picks duckdb__): both must pass the same cases.
{{ featurewarehouse.default__point_in_time_join(
    spine=ref('pit_spine'),
    spine_timestamp='event_ts',
    features=['v_plain:*', 'v_ttl:*', 'v_avail:*', 'v_avail_nottl:*', 'v_pair:*', 'v_merchant:*'],
    full_feature_names=true) }}
