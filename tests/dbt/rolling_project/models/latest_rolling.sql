-- the PIT macros read the generated features and TTL of a rolling view
{{ featurewarehouse.latest_feature_values(view='rolling_incremental', as_of="'2024-01-01 03:00:00'") }}
