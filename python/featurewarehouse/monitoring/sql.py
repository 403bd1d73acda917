"""The profiling SQL: bin edges of a baseline, then one aggregate scan per source.

Engine differences (quantiles, approximate distinct counts, list literals, the
names of the double and text types) are members of a :class:`Flavor`; a
Warehouse class names its flavor as ``MONITOR_FLAVOR`` (``"module:Class"``, like
``GX_ENGINE``), so a new engine brings its flavor with its Warehouse module. Every
value is cast to the double type so that integer, decimal and float features
profile alike (PostgreSQL's avg of a bigint would be numeric).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Sequence

from featurewarehouse.errors import ConfigError
from featurewarehouse.offline.spine import quote


class Flavor:
    """How one engine spells what the profile needs. Each method returns SQL; the
    list-valued aggregates keep the statement small (a query with hundreds of
    aggregates costs DuckDB seconds to plan before it reads a row). The defaults are
    the spellings most engines share; an engine overrides what it spells otherwise."""

    DOUBLE = "double precision"  # the SQL-standard name (Spark knows only `double`)
    TEXT = "varchar"  # without a length (Spark's varchar needs one: `string` there)

    def array(self, items: Sequence[str]) -> str:
        """A list of the SQL expressions ``items``."""
        return f"array[{', '.join(items)}]"

    def quantiles(self, expr: str, points: Sequence[float]) -> str:
        """A list of ``expr``'s continuous (linearly interpolated) quantiles at ``points``."""
        raise NotImplementedError

    def approx_distinct(self, expr: str) -> str:
        return f"approx_count_distinct({expr})"

    def bin_counts(self, index: str, bins: int) -> str:
        """Per-bin row counts of the integer ``index`` (NULL indexes not counted): categorical bins."""
        return self.array([f"count(*) filter (where {index} = {j})" for j in range(bins)])

    def parse_bin_counts(self, value: Any, bins: int) -> list[int]:
        return [int(v) for v in value]


class DuckDBFlavor(Flavor):
    def quantiles(self, expr: str, points: Sequence[float]) -> str:
        # one list-valued aggregate sorts once for every point (measured ~1.6x faster than one call per point)
        return f"quantile_cont({expr}, [{', '.join(repr(float(q)) for q in points)}])"

    def bin_counts(self, index: str, bins: int) -> str:
        return f"histogram({index})"

    def parse_bin_counts(self, value: Any, bins: int) -> list[int]:
        counts = [0] * bins
        items = value.items() if isinstance(value, dict) else (value or [])
        for key, n in items:
            counts[int(key)] = int(n)
        return counts


class PostgresFlavor(Flavor):
    def quantiles(self, expr: str, points: Sequence[float]) -> str:
        qs = ", ".join(repr(float(q)) for q in points)
        return f"percentile_cont(array[{qs}]::float8[]) within group (order by {expr})"

    def approx_distinct(self, expr: str) -> str:  # PostgreSQL has no approximate distinct count
        return f"count(distinct {expr})"


class SparkFlavor(Flavor):
    DOUBLE = "double"
    TEXT = "string"

    def array(self, items: Sequence[str]) -> str:
        return f"array({', '.join(items)})"

    def quantiles(self, expr: str, points: Sequence[float]) -> str:
        # exact, interpolated as quantile_cont/percentile_cont are (percentile_approx is not)
        return f"percentile({expr}, {self.array([repr(float(q)) for q in points])})"


def flavor(wh: Any) -> Flavor:
    """The flavor a warehouse's class names (``MONITOR_FLAVOR``)."""
    name = getattr(type(wh), "MONITOR_FLAVOR", "")
    if not name:
        raise ConfigError(
            f"fwctl monitor does not run on {wh.dialect or type(wh).__name__!r} warehouses yet",
            hint="give its Warehouse class a MONITOR_FLAVOR (a Flavor in monitoring/sql.py); see docs/engines.md",
        )
    module, cls = name.split(":")
    return getattr(importlib.import_module(module), cls)()


PROFILE_QUANTILES = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class Column:
    """One feature as a source holds it: ``column`` in the source, ``kind``, and the
    baseline's bins (numeric edges, or category names)."""

    feature: str
    column: str
    kind: str  # "numeric" | "categorical"
    bins: tuple = ()


def literal(fl: Flavor, value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"cast({float(value)!r} as {fl.DOUBLE})"


def _num(fl: Flavor, column: str) -> str:
    # NaN counts as missing: it has no bin, and DuckDB's stddev raises on it
    return f"nullif(cast({quote(column)} as {fl.DOUBLE}), cast('NaN' as {fl.DOUBLE}))"


def _text(fl: Flavor, column: str) -> str:
    return f"cast({quote(column)} as {fl.TEXT})"


def edges_sql(fl: Flavor, relation: str, columns: Sequence[Column], points: Sequence[float], where: str | None) -> str:
    """One row: for each numeric column, the list of its values at ``points`` (``c{i}_q``)."""
    items = [f"{fl.quantiles(_num(fl, c.column), points)} as c{i}_q" for i, c in enumerate(columns)]
    return f"select {', '.join(items) or '1 as none'} from {relation}" + (f" where {where}" if where else "")


def top_categories_sql(fl: Flavor, relation: str, column: str, limit: int, where: str | None) -> str:
    """The ``limit`` most frequent non-null values of ``column`` (ties by value, so it is deterministic)."""
    value = _text(fl, column)
    conditions = [f"{quote(column)} is not null"] + ([where] if where else [])
    return (
        f"select {value} as value, count(*) as n from {relation} where {' and '.join(conditions)} "
        f"group by 1 order by n desc, value limit {int(limit)}"
    )


def numeric_bins(non_null: int, reach: Sequence[Any] | None) -> list[int]:
    """Bin counts from the non-null count and how many values reach each edge: a value on
    an edge falls in the bin above it.

    >>> numeric_bins(10, [7, 3])
    [3, 4, 3]
    """
    reach = [int(r or 0) for r in reach or ()]
    bounds = [non_null, *reach, 0]
    return [bounds[j] - bounds[j + 1] for j in range(len(bounds) - 1)]


def bin_count(c: Column) -> int:
    """How many bins: numeric, one more than its edges; categorical, its categories and "other"."""
    return len(c.bins) + 1


def _category_index(fl: Flavor, c: Column, value: str) -> str:
    """The bin of a categorical ``value`` (NULL for NULL): the category's position, or "other" last."""
    whens = " ".join(f"when {literal(fl, x)} then {j}" for j, x in enumerate(c.bins))
    return f"case when {value} is null then null " + (f"else case {value} {whens} else {len(c.bins)} end end"
                                                      if whens else "else 0 end")


def profile_sql(
    fl: Flavor,
    relation: str,
    columns: Sequence[Column],
    *,
    timestamp: str | None,
    where: str | None = None,
    daily: bool = True,
    freshness: Sequence[str] = (),
) -> str:
    """One scan of ``relation``: per day of ``timestamp`` (or over all rows when
    ``daily`` is false) the row count and, per column ``c{i}``, non-null count,
    distinct count, the bin counts (``c{i}_bins``) and, for numeric columns, min,
    max, mean, stddev and the :data:`PROFILE_QUANTILES` (``c{i}_q``); ``freshness``
    columns get their max (``newest_{k}``)."""
    inner = []  # each value cast once, its bin computed once, in a projection under the aggregate
    for i, c in enumerate(columns):
        value = _num(fl, c.column) if c.kind == "numeric" else _text(fl, c.column)
        inner.append(f"{value} as v{i}")
    inner += [f"{quote(col)} as n{k}" for k, col in enumerate(freshness)]
    if daily:
        # grouped by the truncated timestamp, not a cast to date: the cast per row cost about a
        # third of the daily profile at 10M rows (bench/monitor.py); profile.py takes the date
        inner.append(f"date_trunc('day', {quote(timestamp)}) as fw_window")
    inner_sql = f"select {', '.join(inner) or '1 as one'} from {relation}" + (f" where {where}" if where else "")
    items = ["count(*) as row_count"]
    binned = []
    for i, c in enumerate(columns):
        v = f"v{i}"
        items += [f"count({v}) as c{i}_count", f"{fl.approx_distinct(v)} as c{i}_distinct"]
        if c.kind == "numeric":
            items += [f"min({v}) as c{i}_min", f"max({v}) as c{i}_max", f"avg({v}) as c{i}_mean",
                      f"stddev_samp({v}) as c{i}_stddev", f"{fl.quantiles(v, PROFILE_QUANTILES)} as c{i}_q"]
            # Numeric bins as how many values reach each edge: plain sums, the cheapest aggregate
            # (bench/monitor.py: cheaper than a histogram of a bin index on DuckDB); bin j is
            # then the difference of neighbours (see numeric_bins).
            if c.bins:
                reach = fl.array([f"sum(cast({v} >= {literal(fl, e)} as integer))" for e in c.bins])
                items.append(f"{reach} as c{i}_reach")
        else:
            items.append(f"{fl.bin_counts(f'b{i}', bin_count(c))} as c{i}_bins")
            binned.append(f"{_category_index(fl, c, v)} as b{i}")
    items += [f"max(n{k}) as newest_{k}" for k in range(len(freshness))]
    keep = ["fw_window"] if daily else []
    middle = (f"select {', '.join(keep + [f'v{i}' for i in range(len(columns))] + [f'n{k}' for k in range(len(freshness))] + binned) or '1 as one'} "
              f"from ({inner_sql}) as raw")
    sql = "select " + ("fw_window, " if daily else "") + ", ".join(items) + f" from ({middle}) as t"
    if daily:
        sql += " group by fw_window order by fw_window"
    return sql
