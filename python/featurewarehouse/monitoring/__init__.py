"""Monitoring: profiles, drift (PSI) and freshness of feature views, computed in the warehouse.

- :mod:`.spec`: what to monitor and the thresholds, from ``meta.fw.monitor`` in YAML;
- :mod:`.sql`: the profiling SQL (one scan per view and source, daily windows);
- :mod:`.psi`: the Population Stability Index from bin counts (its epsilon);
- :mod:`.run`: baseline, current window, comparison with thresholds;
- :mod:`.history`: results appended under ``target/fw_monitor/`` (never overwritten),
  and the blocking breaches the serving gate reads;
- :mod:`.plots`: one PNG per view (needs the ``monitor`` extra: matplotlib).
"""
