"""Feature Warehouse: a feature store on your SQL warehouse, with dbt at its centre."""
from __future__ import annotations

import warnings

# Great Expectations imports pyspark when it is installed (the spark extra), and pyspark warns on
# import that it does not fully support pandas 3. Feature Warehouse moves Spark data as Arrow
# (toArrow), never through pandas, so the warning only clutters every `fwctl validate`.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

__version__ = "0.1.0"
# The dbt package name (dbt_project.yml `name:`): macros are `featurewarehouse.<macro>`.
DBT_PACKAGE = "featurewarehouse"


def __getattr__(name: str):
    # Lazy, so `import featurewarehouse` (and `fwctl --help`) stays light.
    if name == "FeatureStore":
        from featurewarehouse.store import FeatureStore

        return FeatureStore
    raise AttributeError(f"module 'featurewarehouse' has no attribute {name!r}")
