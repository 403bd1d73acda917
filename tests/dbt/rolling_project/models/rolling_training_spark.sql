-- window features at the spine's time over rolling_spark (tests/spark/test_rolling_pit_spark.py)
{{ featurewarehouse.point_in_time_join(spine=ref('spine'), spine_timestamp='label_ts', features=['rolling_spark:*']) }}
