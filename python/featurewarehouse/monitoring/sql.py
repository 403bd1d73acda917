"""The profiling SQL: bin edges of a baseline, then one aggregate scan per source.

Engine differences (quantiles, approximate distinct counts) are methods of a
:class:`Flavor`, looked up once from the warehouse's dialect. Every value is
cast to double precision so that integer, decimal and float features profile
alike (PostgreSQL's avg of a bigint would be numeric).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from featurewarehouse.errors import ConfigError
from featurewarehouse.offline.spine import quote


class Flavor:
    dialect = ""

    def quantile(self, expr: str, q: float) -> str:
        raise NotImplementedError

    def approx_distinct(self, expr: str) -> str:
        raise NotImplementedError


class DuckDBFlavor(Flavor):
    dialect = "duckdb"

    def quantile(self, expr: str, q: float) -> str:
        return f"quantile_cont({expr}, {q!r})"

    def approx_distinct(self, expr: str) -> str:
        return f"approx_count_distinct({expr})"


class PostgresFlavor(Flavor):
    dialect = "postgres"

    def quantile(self, expr: str, q: float) -> str:
        return f"percentile_cont({q!r}) within group (order by {expr})"

    def approx_distinct(self, expr: str) -> str:  # PostgreSQL has no approximate distinct count
        return f"count(distinct {expr})"


_FLAVORS = {f.dialect: f for f in (DuckDBFlavor(), PostgresFlavor())}


def flavor(dialect: str) -> Flavor:
    try:
        return _FLAVORS[dialect]
    except KeyError:
        raise ConfigError(f"fwctl monitor does not run on {dialect!r} warehouses yet",
                          hint="it runs on duckdb and postgres targets") from None


PROFILE_QUANTILES = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class Column:
    """One feature as a source holds it: ``column`` in the source, ``kind``, and the
    baseline's bins (numeric edges, or category names)."""

    feature: str
    column: str
    kind: str  # "numeric" | "categorical"
    bins: tuple = ()


def literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"cast({float(value)!r} as double precision)"


def _num(column: str) -> str:
    return f"cast({quote(column)} as double precision)"


def _text(column: str) -> str:
    return f"cast({quote(column)} as varchar)"


def edges_sql(fl: Flavor, relation: str, columns: Sequence[Column], points: Sequence[float], where: str | None) -> str:
    """One row: for each numeric column, its value at each of ``points`` (``c{i}_q{j}``)."""
    items = [
        f"{fl.quantile(_num(c.column), q)} as c{i}_q{j}"
        for i, c in enumerate(columns) for j, q in enumerate(points)
    ]
    return f"select {', '.join(items) or '1 as none'} from {relation}" + (f" where {where}" if where else "")


def top_categories_sql(relation: str, column: str, limit: int, where: str | None) -> str:
    """The ``limit`` most frequent non-null values of ``column`` (ties by value, so it is deterministic)."""
    value = _text(column)
    conditions = [f"{quote(column)} is not null"] + ([where] if where else [])
    return (
        f"select {value} as value, count(*) as n from {relation} where {' and '.join(conditions)} "
        f"group by 1 order by n desc, value limit {int(limit)}"
    )


def bin_filters(c: Column) -> list[str]:
    """The filter of each bin, in order (numeric: below the first edge .. from the last
    edge up; categorical: each category, then "other")."""
    if c.kind == "numeric":
        v, e = _num(c.column), [literal(x) for x in c.bins]
        if not e:
            return [f"{v} is not null"]
        out = [f"{v} < {e[0]}"]
        out += [f"{v} >= {lo} and {v} < {hi}" for lo, hi in zip(e, e[1:])]
        return out + [f"{v} >= {e[-1]}"]
    v = _text(c.column)
    named = [f"{v} = {literal(x)}" for x in c.bins]
    known = f"{v} in ({', '.join(literal(x) for x in c.bins)})" if c.bins else "false"
    return named + [f"{v} is not null and not ({known})"]


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
    min, max, mean, stddev, quantiles, distinct count and each bin's count;
    ``freshness`` columns get their max (``newest_{k}``)."""
    items = ["count(*) as row_count"]
    for i, c in enumerate(columns):
        raw = quote(c.column)
        items.append(f"count({raw}) as c{i}_count")
        items.append(f"{fl.approx_distinct(raw)} as c{i}_distinct")
        if c.kind == "numeric":
            v = _num(c.column)
            items += [f"min({v}) as c{i}_min", f"max({v}) as c{i}_max", f"avg({v}) as c{i}_mean",
                      f"stddev_samp({v}) as c{i}_stddev"]
            items += [f"{fl.quantile(v, q)} as c{i}_p{round(q * 100):02d}" for q in PROFILE_QUANTILES]
        items += [f"count(*) filter (where {f}) as c{i}_bin{j}" for j, f in enumerate(bin_filters(c))]
    items += [f"max({quote(col)}) as newest_{k}" for k, col in enumerate(freshness)]
    sql = "select "
    if daily:
        sql += f"cast(date_trunc('day', {quote(timestamp)}) as date) as fw_window, "
    sql += ", ".join(items) + f" from {relation}"
    if where:
        sql += f" where {where}"
    if daily:
        sql += " group by 1 order by 1"
    return sql
