"""Static leak checks on feature-view SQL (sqlglot).

A feature row at time ``t`` may use only what was known at ``t``. These rules
flag SQL that likely reads the future:

=======  ========  ============================================================
rule     severity  what
=======  ========  ============================================================
FW001    error     ``lead()`` (or ``lag()`` with a negative offset): a later row
FW002    error     a window frame reaching ``following`` rows
FW003    warning   a window ordered by something other than the view's timestamp
FW004    error     a join to (any read of) a label model
FW005    error     an aggregate window over a whole partition (no order, no frame)
FW006    warning   a per-entity GROUP BY aggregate in a CTE/subquery, no time key or bound
=======  ========  ============================================================

A finding on a line holding ``fw-lint: ignore`` (or ``fw-lint: ignore=FW003``)
is suppressed: the escape hatch for a reviewed exception.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from featurewarehouse.registry.model import FeatureView, Registry

ERROR, WARNING = "error", "warning"
_TIME_SUFFIXES = ("_ts", "_at", "_time", "_date", "timestamp", "date", "time")
_IGNORE = re.compile(r"fw-lint:\s*ignore(?:\s*=\s*([A-Z0-9, ]+))?", re.I)


@dataclass(frozen=True)
class Finding:
    model: str
    line: int | None
    rule: str
    severity: str
    construct: str  # the offending SQL, one line
    message: str
    file: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _line(node: Any) -> int | None:
    for n in node.walk():
        line = (getattr(n, "meta", None) or {}).get("line")
        if line:
            return int(line)
    return None


def _snippet(node: Any, dialect: str) -> str:
    text = " ".join(node.sql(dialect=dialect, comments=False).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _columns(node: Any) -> set[str]:
    from sqlglot import exp

    return {c.name.lower() for c in node.find_all(exp.Column)}


def _is_time_name(name: str, time_names: set[str]) -> bool:
    return name in time_names or name.endswith(_TIME_SUFFIXES)


def lint_sql(
    sql: str,
    *,
    model: str,
    timestamp: str | None,
    label_models: Iterable[str] = (),
    time_columns: Iterable[str] = (),
    entity_keys: Iterable[str] = (),
    dialect: str = "duckdb",
    file: str = "",
) -> list[Finding]:
    """Findings for one model's SQL. ``time_columns``: other names its timestamp has upstream;
    ``entity_keys``: the view's join keys (FW006 then flags only per-entity aggregates).

    >>> [f.rule for f in lint_sql("select k, lead(x) over (partition by k order by ts) as f from t",
    ...                          model="v", timestamp="ts")]
    ['FW001']
    """
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    from featurewarehouse.registry.sql import parse_tokens, tokenize

    # tokenize + parse only: sql.parse would also fingerprint the tokens, ~10% of a lint, unused here
    tokens, error = tokenize(sql, dialect)
    tree, error = parse_tokens(tokens, sql, dialect) if tokens is not None else (None, error)
    if tree is None:
        return [Finding(model, None, "FW000", WARNING, "", f"not linted: the SQL does not parse ({error})", file)]
    time_names = {n.lower() for n in (timestamp, *time_columns) if n}
    labels = {m.lower() for m in label_models}
    keys = {k.lower() for k in entity_keys}
    found: list[Finding] = []

    def add(node: Any, rule: str, severity: str, message: str) -> None:
        found.append(Finding(model, _line(node), rule, severity, _snippet(node, dialect), message, file))

    for win in tree.find_all(exp.Window):
        func = win.this
        if isinstance(func, exp.Identifier):
            continue  # a named window's definition (WINDOW w AS (...)): checked where it is used
        spec, order = _effective_window(win)
        if isinstance(func, exp.Lead):
            add(win, "FW001", ERROR, "lead() reads a later row: the feature sees the future")
        elif isinstance(func, exp.Lag):
            offset = func.args.get("offset")
            if isinstance(offset, exp.Neg) or (isinstance(offset, exp.Literal) and offset.to_py() < 0):
                add(win, "FW001", ERROR, "lag() with a negative offset reads a later row")
        if spec is not None and _reaches_following(spec):
            add(win, "FW002", ERROR,
                "the window frame reaches FOLLOWING rows: each row sees rows after its own timestamp")
        if order is _UNKNOWN_ORDER:
            pass
        elif order is not None:
            order_keys = [o.this if isinstance(o, exp.Ordered) else o for o in order.expressions]
            bad = [k for k in order_keys if not (_columns(k) & time_names)]
            if time_names and bad:
                add(win, "FW003", WARNING,
                    f"window ordered by {', '.join(_snippet(k, dialect) for k in bad)}, not by the view's "
                    f"timestamp {timestamp!r}: rows of a later time may come first")
        elif spec is None and isinstance(func, exp.AggFunc):
            add(win, "FW005", ERROR,
                "aggregate over the whole partition (no ORDER BY, no frame): every row sees all rows, "
                "later ones too; order by the timestamp and bound the frame")

    for table in tree.find_all(exp.Table):
        if table.name.lower() in labels:
            add(table, "FW004", ERROR,
                f"reads label model {table.name!r}: labels are outcomes known only later")

    try:
        scopes = list(traverse_scope(tree))
    except Exception:  # sqlglot raises many kinds on odd SQL; the window rules above still ran
        scopes = []
    for scope in scopes[:-1]:  # the root scope is the view itself: a whole-history snapshot is its own choice
        select = scope.expression
        if not isinstance(select, exp.Select) or not select.args.get("group"):
            continue
        aggs = [a for a in select.find_all(exp.AggFunc) if not a.find_ancestor(exp.Window)]
        if not aggs:
            continue
        group_cols: set[str] = set()
        for g in select.args["group"].expressions:
            if isinstance(g, exp.Literal) and g.is_int and 0 < int(g.this) <= len(select.expressions):
                g = select.expressions[int(g.this) - 1]  # GROUP BY 1, 2: the select items
                group_cols.add(g.alias_or_name.lower())
            group_cols |= _columns(g)
        bounds: set[str] = set()
        for clause in ("where", "joins", "having"):
            part = select.args.get(clause)
            for p in part if isinstance(part, list) else [part] if part is not None else []:
                for cmp in p.find_all(exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Between):
                    bounds |= _columns(cmp)
        if any(_is_time_name(c, time_names) for c in group_cols | bounds):
            continue
        if keys and not (group_cols & keys):
            continue  # not per entity (e.g. per request): not a history of the entity
        add(select.args["group"], "FW006", WARNING,
            "GROUP BY aggregate with no time key and no time bound: if joined back to rows, each row "
            "sees the whole history, later events too")

    return _suppress(found, sql)


def _effective_window(win: Any) -> tuple[Any, Any]:
    """(frame spec, order) of a window, following ``over w`` to ``window w as (...)``."""
    from sqlglot import exp

    spec, order = win.args.get("spec"), win.args.get("order")
    name = win.args.get("alias")
    if name is not None:
        name = name.name if isinstance(name, exp.Identifier) else str(name)
        select = win.find_ancestor(exp.Select)
        while select is not None:
            for definition in select.args.get("windows") or []:
                if definition.this.name == name:
                    d_spec, d_order = _effective_window(definition)
                    return spec or d_spec, order or d_order
            select = select.find_ancestor(exp.Select)
        return spec, order or _UNKNOWN_ORDER
    return spec, order


_UNKNOWN_ORDER = object()  # "over w" with no definition in sight: do not guess


def _reaches_following(spec: Any) -> bool:
    from sqlglot import exp

    for side_key, value_key in (("start_side", "start"), ("end_side", "end")):
        side = spec.args.get(side_key)
        if isinstance(side, str) and side.upper() == "FOLLOWING":
            value = spec.args.get(value_key)
            if isinstance(value, exp.Literal) and value.is_int and int(value.this) == 0:
                continue  # "0 following" is the current row
            return True
    return False


def _suppress(found: list[Finding], sql: str) -> list[Finding]:
    lines = sql.splitlines()
    out = []
    for f in found:
        text = lines[f.line - 1] if f.line and 0 < f.line <= len(lines) else ""
        m = _IGNORE.search(text)
        if m and (not m[1] or f.rule in {r.strip().upper() for r in m[1].split(",")}):
            continue
        out.append(f)
    return sorted(out, key=lambda f: (f.model, f.line or 0, f.rule))


def time_columns_of(registry: Registry, view: FeatureView) -> set[str]:
    """Names the view's timestamp columns carry upstream (``txn_ts as event_ts``)."""
    from featurewarehouse.registry.lineage import split_column

    names: set[str] = set()
    lineage = registry.column_lineage.get(view.name, {})
    for col in filter(None, (view.timestamp, view.created_timestamp, view.available_timestamp)):
        names.add(col)
        for upstream in lineage.get(col, ()):
            names.add(split_column(upstream)[1])
    return names


def lint_registry(registry: Registry, views: Iterable[str] | None = None) -> tuple[list[Finding], list[str]]:
    """(findings, names of views that could not be linted for want of SQL)."""
    wanted = set(views) if views else None
    labels = [m.name for m in registry.models_of_kind("label")]
    findings: list[Finding] = []
    skipped: list[str] = []
    for view in registry.feature_views:
        if wanted is not None and view.name not in wanted:
            continue
        sql = (registry.model_sql.get(view.name) or {}).get("sql")
        if not sql:
            skipped.append(view.name)
            continue
        findings += lint_sql(
            sql, model=view.name, timestamp=view.timestamp, label_models=labels,
            time_columns=time_columns_of(registry, view), entity_keys=view.key_names, dialect=registry.dialect,
            file=view.original_file_path,
        )
    if wanted:
        for name in sorted(wanted - {v.name for v in registry.feature_views}):
            registry.view(name)  # raises with "did you mean"
    return findings, skipped
