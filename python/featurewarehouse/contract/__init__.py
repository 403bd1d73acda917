"""The metadata contract: the one Python home of what ``config.meta.fw`` means.

- :mod:`.types`: type families of SQL type names (every engine) and Arrow types;
- :mod:`.ttl`: TTL text to seconds;
- :mod:`.meta`: the schema of ``config.meta.fw`` and its warehouse-free checks;
- feature refs and their expansion: :mod:`featurewarehouse.refs`.

The Jinja macros repeat these rules (``macros/fw_contract.sql``); the cases in
``tests/contract_cases/`` run through both and must give the same answers.
See ``docs/metadata.md``.
"""
from __future__ import annotations

from featurewarehouse.contract.meta import KINDS, fw_meta
from featurewarehouse.contract.ttl import parse_ttl
from featurewarehouse.contract.types import arrow_family, families_compatible, type_family, types_match
from featurewarehouse.refs import FeatureRef, RefError, expand_refs

__all__ = [
    "KINDS", "FeatureRef", "RefError", "arrow_family", "expand_refs", "families_compatible", "fw_meta",
    "parse_ttl", "type_family", "types_match",
]
