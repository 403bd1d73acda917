{{ featurewarehouse.latest_feature_values(view='err_view_bad_ttl') }}
