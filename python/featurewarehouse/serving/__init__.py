"""Serving: the Python online client (the HTTP app and log sink build on it).

The names are loaded on first use, so importing a light submodule (``serving.limits``,
which `fwctl --help` reads for its defaults) does not load the client and pyarrow.
"""
from __future__ import annotations

from typing import Any

__all__ = ["OnlineClient", "OnlineFeatures", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from featurewarehouse.serving import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
