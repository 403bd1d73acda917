"""Feature Warehouse: a feature store on your SQL warehouse, with dbt at its centre."""
from __future__ import annotations

__version__ = "0.1.0"
# The dbt package name (dbt_project.yml `name:`): macros are `featurewarehouse.<macro>`.
DBT_PACKAGE = "featurewarehouse"


def __getattr__(name: str):
    # Lazy, so `import featurewarehouse` (and `fwctl --help`) stays light.
    if name == "FeatureStore":
        from featurewarehouse.store import FeatureStore

        return FeatureStore
    raise AttributeError(f"module 'featurewarehouse' has no attribute {name!r}")
