{{ featurewarehouse.latest_feature_values(view='v_avail', as_of='(select max(as_of) from ' ~ ref('pit_as_of') ~ ')') }}
