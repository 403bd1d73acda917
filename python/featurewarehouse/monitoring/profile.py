"""Profiles of a source (a feature view, a date range of it, a training set or a served
log), computed in the warehouse: bins from the baseline, then one scan per source."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Sequence

from featurewarehouse.monitoring import psi as _psi
from featurewarehouse.monitoring import sql as _sql


@dataclass(frozen=True)
class Source:
    """Rows to profile: ``relation`` filtered by ``where``; ``columns`` maps feature -> column."""

    label: str
    relation: str
    timestamp: str | None
    columns: dict[str, str]
    where: str | None = None


@dataclass(frozen=True)
class FeatureProfile:
    feature: str
    rows: int
    non_null: int
    distinct: int | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stddev: float | None = None
    quantiles: dict[str, float | None] = field(default_factory=dict)
    bins: tuple[int, ...] = ()

    @property
    def null_rate(self) -> float | None:
        return None if self.rows == 0 else 1 - self.non_null / self.rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "null_rate": self.null_rate, "distinct": self.distinct,
            "min": self.min, "max": self.max, "mean": self.mean, "stddev": self.stddev,
            "quantiles": self.quantiles, "bins": list(self.bins),
        }


@dataclass(frozen=True)
class WindowProfile:
    window: str  # an ISO date, or "all"
    rows: int
    features: dict[str, FeatureProfile]
    newest: tuple[Any, ...] = ()


def _day(value: _dt.date) -> _dt.date:
    """The day of a daily window's key (a truncated timestamp; a date on engines that truncate to one)."""
    return value.date() if isinstance(value, _dt.datetime) else value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def compute_bins(wh: Any, fl: _sql.Flavor, source: Source, kinds: dict[str, str]) -> dict[str, tuple]:
    """Bins fixed by the baseline: deciles of numeric features (one scan for all of them),
    the most frequent categories of categorical ones (one grouped query each)."""
    out: dict[str, tuple] = {}
    numeric = [_sql.Column(f, source.columns[f], "numeric") for f, k in kinds.items()
               if k == "numeric" and f in source.columns]
    points = _psi.quantile_points()
    if numeric:
        row = wh.fetch_arrow(_sql.edges_sql(fl, source.relation, numeric, points, source.where)).to_pylist()[0]
        for i, c in enumerate(numeric):
            out[c.feature] = tuple(sorted({float(v) for v in row[f"c{i}_q"] or () if v is not None}))
    for f, k in kinds.items():
        if k == "categorical" and f in source.columns:
            table = wh.fetch_arrow(_sql.top_categories_sql(fl, source.relation, source.columns[f], _psi.TOP_CATEGORIES,
                                                           source.where))
            out[f] = tuple(str(v) for v in table.column("value").to_pylist())
    return out


def profile(
    wh: Any, fl: _sql.Flavor, source: Source, kinds: dict[str, str], bins: dict[str, tuple], *,
    daily: bool, freshness: Sequence[str] = (),
) -> list[WindowProfile]:
    """Profile every feature of ``kinds`` that ``source`` holds, per day or over all rows."""
    columns = [_sql.Column(f, source.columns[f], kinds[f], bins.get(f, ())) for f in kinds if f in source.columns]
    query = _sql.profile_sql(fl, source.relation, columns, timestamp=source.timestamp, where=source.where,
                             daily=daily, freshness=freshness)
    windows = []
    for row in wh.fetch_arrow(query).to_pylist():
        rows = int(row["row_count"])
        if daily and row["fw_window"] is None:
            continue  # rows without a timestamp belong to no day
        features = {}
        for i, c in enumerate(columns):
            qs = row.get(f"c{i}_q") or [None] * len(_sql.PROFILE_QUANTILES)
            features[c.feature] = FeatureProfile(
                feature=c.feature, rows=rows, non_null=int(row[f"c{i}_count"]),
                distinct=None if row[f"c{i}_distinct"] is None else int(row[f"c{i}_distinct"]),
                min=_float(row.get(f"c{i}_min")), max=_float(row.get(f"c{i}_max")),
                mean=_float(row.get(f"c{i}_mean")), stddev=_float(row.get(f"c{i}_stddev")),
                quantiles={f"p{round(q * 100):02d}": _float(v) for q, v in zip(_sql.PROFILE_QUANTILES, qs)}
                if c.kind == "numeric" else {},
                bins=tuple(_sql.numeric_bins(int(row[f"c{i}_count"]), row.get(f"c{i}_reach")) if c.kind == "numeric"
                           else fl.parse_bin_counts(row[f"c{i}_bins"], _sql.bin_count(c))),
            )
        window = _day(row["fw_window"]).isoformat() if daily else "all"
        windows.append(WindowProfile(window, rows, features, tuple(row[f"newest_{k}"] for k in range(len(freshness)))))
    return windows


def as_utc(value: Any) -> _dt.datetime | None:
    """A warehouse timestamp (naive means UTC, as everywhere in the project) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
