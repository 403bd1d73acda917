"""TTL text to seconds: the one rule, shared with ``fw_ttl_parse`` in ``macros/fw_contract.sql``.

The rule (``docs/metadata.md``, "TTL"):

- a YAML integer > 0 is seconds (``ttl: 3600``);
- a string is ASCII digits then one unit, nothing else: ``45s``, ``90m``,
  ``12h``, ``30d``, ``2w``; no sign, no spaces or tabs, no other digits
  (``"٣d"`` is not 3 days), no decimal point, lower-case units;
- the number is > 0;
- floats (``3600.0``) and booleans are refused: YAML already reads ``3600``
  as an integer, so a float is a typo or a computed value to round on purpose;
- null or ``""`` means no TTL.
"""
from __future__ import annotations

import re
from typing import Any

from featurewarehouse.errors import MetadataError

# [0-9], not \d: \d matches every Unicode digit (Arabic-Indic, fullwidth ...)
_TTL = re.compile(r"([0-9]+)([smhdw])")
TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TTL_HINT = "write a positive number and a unit with no spaces: 45s, 90m, 12h, 30d or 2w (or an integer of seconds)"


def ttl_seconds_or_none(value: Any) -> tuple[bool, int | None]:
    """``(ok, seconds)``: the TTL in seconds (None: no TTL), or ``(False, None)`` when malformed.

    >>> ttl_seconds_or_none("30d"), ttl_seconds_or_none(3600.0), ttl_seconds_or_none(None)
    ((True, 2592000), (False, None), (True, None))
    """
    if value is None or value == "":
        return True, None
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int):
        return (True, value) if value > 0 else (False, None)
    if not isinstance(value, str):
        return False, None
    m = _TTL.fullmatch(value)
    if not m or int(m[1]) == 0:
        return False, None
    return True, int(m[1]) * TTL_UNITS[m[2]]


def parse_ttl(value: Any, *, where: str | None = None) -> int | None:
    """TTL to seconds (None: no TTL); a malformed one raises :class:`MetadataError`.

    >>> parse_ttl("30d"), parse_ttl(45), parse_ttl("")
    (2592000, 45, None)
    """
    ok, seconds = ttl_seconds_or_none(value)
    if not ok:
        raise MetadataError(f"malformed ttl {value!r}", where=where, hint=TTL_HINT)
    return seconds
