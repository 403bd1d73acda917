"""Serving: the Python online client (the HTTP app and log sink build on it)."""
from __future__ import annotations

from featurewarehouse.serving.client import (
    NOT_FOUND,
    NULL_VALUE,
    OUTSIDE_MAX_AGE,
    PRESENT,
    OnlineClient,
    OnlineFeatures,
)

__all__ = ["OnlineClient", "OnlineFeatures", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]
