{{ featurewarehouse.latest_feature_values(view='v_avail_nottl', as_of='(select max(as_of) from ' ~ ref('pit_as_of') ~ ')') }}
