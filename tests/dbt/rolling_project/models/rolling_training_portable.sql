-- The portable default__ body on every engine (on DuckDB the dispatch picks duckdb__): both must pass the same cases.
{{ featurewarehouse.default__point_in_time_join(
    spine=ref('spine'), spine_timestamp='label_ts',
    features=['rolling_all:*', 'rolling_exclusive:*', 'rolling_incremental:*', 'rolling_incremental_lifetime:*'],
    full_feature_names=true) }}
