"""Feature Warehouse: a feature store on your SQL warehouse, with dbt at its centre."""
from __future__ import annotations

__version__ = "0.1.0"
