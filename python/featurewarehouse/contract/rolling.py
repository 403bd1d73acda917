"""The rolling spec of a ``featurewarehouse.rolling_features`` view: the one Python reader of
``config.meta.fw_generated.rolling`` (docs/rolling-windows.md).

The macro records at parse time what computing the view's windows at any instant needs:
the keys, the timestamp, ``exclusive``, the source filter ``where``, one SQL expression per
aggregation (``values``: its filter applied, NULL where a row does not count) and each
feature's aggregation, value and window (``seconds``; None is lifetime). The source relation
is the model's only parent in the manifest. The registry keeps the parsed spec on the
feature view (:attr:`FeatureView.rolling`), so the online sync and the read path take it from
the registry (and the store's copy of the view), never from the manifest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from featurewarehouse.errors import Problem

ROLLING_VERSION = 1
AGGS = ("count", "sum", "avg", "min", "max", "stddev", "count_distinct", "last")


@dataclass(frozen=True)
class RollingValue:
    """One aggregated expression (``fw_v<index>`` in the macro's SQL)."""

    index: int
    agg: str
    expr: str  # SQL over a source row, its filter applied (NULL where the row does not count)
    data_type: str


@dataclass(frozen=True)
class RollingFeature:
    """One feature column: an aggregation of a value over a window."""

    name: str
    agg: str
    index: int  # the RollingValue it aggregates
    seconds: int | None  # the window; None: lifetime
    data_type: str
    rows: bool = False  # count(*) of the rows (no column, no filter)


@dataclass(frozen=True)
class RollingSpec:
    source: str  # the source relation, as dbt renders it
    keys: tuple[str, ...]
    timestamp: str
    exclusive: bool
    where: str | None
    values: tuple[RollingValue, ...]
    features: tuple[RollingFeature, ...]
    version: int = ROLLING_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RollingSpec":
        """The spec from its registry (or stored-layout) JSON form."""
        return cls(
            source=d["source"], keys=tuple(d["keys"]), timestamp=d["timestamp"], exclusive=bool(d["exclusive"]),
            where=d.get("where"), values=tuple(RollingValue(**v) for v in d["values"]),
            features=tuple(RollingFeature(**f) for f in d["features"]), version=d.get("version", ROLLING_VERSION),
        )

    def value(self, index: int) -> RollingValue:
        return next(v for v in self.values if v.index == index)

    def longest_seconds(self, index: int) -> int | None:
        """The longest finite window over value ``index`` (None: it has only lifetime windows)."""
        finite = [f.seconds for f in self.features if f.index == index and f.seconds is not None]
        return max(finite) if finite else None

    def has_lifetime(self, index: int) -> bool:
        return any(f.index == index and f.seconds is None for f in self.features)


def rolling_spec(node: dict[str, Any], manifest: dict[str, Any], at: str,
                 problems: list[Problem]) -> RollingSpec | None:
    """The node's rolling spec (None when no macro recorded one); a malformed one is a problem."""
    from featurewarehouse.contract.meta import generated

    raw = generated(node).get("rolling")
    if raw is None:
        return None
    rebuild = "rebuild the manifest with the package's current macros (`dbt parse`)"
    if not isinstance(raw, dict) or raw.get("version") != ROLLING_VERSION:
        version = raw.get("version") if isinstance(raw, dict) else raw
        problems.append(Problem(f"{node['name']}: fw_generated.rolling has version {version!r}; "
                                f"this featurewarehouse reads version {ROLLING_VERSION}", at, rebuild))
        return None
    parents = list(dict.fromkeys((node.get("depends_on") or {}).get("nodes") or []))
    if len(parents) != 1:
        problems.append(Problem(
            f"rolling view {node['name']!r} depends on {len(parents)} models or sources "
            f"({', '.join(parents) or 'none'}): its source rows cannot be told apart",
            at, "select from one source only in the model (source=ref('...')), and join other tables "
                "in an upstream model that the macro reads"))
        return None
    parent = (manifest.get("nodes") or {}).get(parents[0]) or (manifest.get("sources") or {}).get(parents[0]) or {}
    relation = parent.get("relation_name")
    if not relation:
        problems.append(Problem(f"rolling view {node['name']!r}: its source {parents[0]} has no relation in the "
                                "manifest", at, "make the source a table or view model (not ephemeral)"))
        return None
    try:
        spec = RollingSpec.from_dict({**raw, "source": relation})
    except (KeyError, TypeError) as exc:
        problems.append(Problem(f"{node['name']}: fw_generated.rolling is malformed ({exc})", at, rebuild))
        return None
    bad = [f.agg for f in spec.features if f.agg not in AGGS]
    if bad:
        problems.append(Problem(f"{node['name']}: fw_generated.rolling names unknown aggregation(s) "
                                f"{', '.join(bad)}", at, rebuild))
        return None
    return spec
