"""A fast path for output columns and column lineage of common feature SQL.

sqlglot's ``qualify`` + ``lineage`` handle any SQL but cost twice the parse;
at a thousand views that dominates the build. Feature SQL is mostly one shape:
CTEs, selects from tables/CTEs/subqueries with joins, expressions and window
functions. This module resolves that shape directly on the parsed tree and
gives up (returns None) on anything else (set operations, table functions,
subqueries inside expressions, ambiguous unqualified columns, stars over
tables of unknown columns), in which case the caller uses sqlglot's path.
A parity test runs both paths on the demo's and the fixtures' models.
"""
from __future__ import annotations

from typing import Any


class Unsupported(Exception):
    """The query has a shape this resolver does not handle."""


class _Source:
    """What a FROM/JOIN item provides: a table (leaf) or a query (resolved recursively)."""

    def __init__(self, table: str | None = None, query: "_Select | None" = None):
        self.table = table
        self.query = query


class _Select:
    def __init__(self, node: Any, ctes: dict[str, "_Select"], schema: dict[str, list[str] | None]):
        from sqlglot import exp

        if not isinstance(node, exp.Select):
            raise Unsupported(type(node).__name__)
        if node.args.get("exclude") or node.args.get("laterals") or node.args.get("pivots"):
            raise Unsupported("exclude/lateral/pivot")
        self.node = node
        self.schema = schema
        local = dict(ctes)
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            if with_.args.get("recursive"):
                raise Unsupported("recursive CTE")
            for cte in with_.expressions:
                local[cte.alias_or_name] = _Select(cte.this, local, schema)
        self.sources: dict[str, _Source] = {}
        items = []
        if node.args.get("from_") is not None or node.args.get("from") is not None:
            items.append((node.args.get("from_") or node.args.get("from")).this)
        for join in node.args.get("joins") or []:
            if join.args.get("using"):
                raise Unsupported("join using")  # a USING column belongs to both sides
            items.append(join.this)
        for item in items:
            if isinstance(item, exp.Table):
                if not isinstance(item.this, exp.Identifier):
                    raise Unsupported("table function")
                name = item.name
                alias = item.alias_or_name
                if not item.args.get("db") and name in local:
                    self.sources[alias] = _Source(query=local[name])
                else:
                    self.sources[alias] = _Source(table=name)
            elif isinstance(item, exp.Subquery):
                self.sources[item.alias_or_name] = _Source(query=_Select(item.this, local, schema))
            else:
                raise Unsupported(type(item).__name__)
        self._outputs: list[tuple[str, Any]] | None = None
        self._memo: dict[str, list[str]] = {}

    # ---- columns ------------------------------------------------------------
    def source_columns(self, alias: str) -> list[str]:
        src = self.sources[alias]
        if src.query is not None:
            return [name for name, _ in src.query.outputs()]
        cols = self.schema.get(src.table)
        if cols is None:
            raise Unsupported(f"columns of {src.table} unknown")
        return cols

    def outputs(self) -> list[tuple[str, Any]]:
        """(name, expression or (alias, column) for star pass-through), in order."""
        from sqlglot import exp

        if self._outputs is not None:
            return self._outputs
        out: list[tuple[str, Any]] = []
        for proj in self.node.expressions:
            if isinstance(proj, exp.Star):
                if any(proj.args.get(k) for k in ("except_", "replace", "rename", "ilike")):
                    raise Unsupported("star modifiers")
                for alias in self.sources:
                    out += [(c, (alias, c)) for c in self.source_columns(alias)]
            elif isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star):
                alias = proj.table
                if alias not in self.sources:
                    raise Unsupported(f"unknown table {alias}")
                out += [(c, (alias, c)) for c in self.source_columns(alias)]
            else:
                name = proj.alias_or_name
                if not name:
                    raise Unsupported("unnamed projection")
                out.append((name, proj.this if isinstance(proj, exp.Alias) else proj))
        self._outputs = out
        return out

    def _owner(self, column: Any) -> str:
        if column.table:
            if column.table not in self.sources:
                raise Unsupported(f"unknown table {column.table}")
            return column.table
        if len(self.sources) == 1:
            return next(iter(self.sources))
        owners = [a for a in self.sources if column.name in self.source_columns(a)]
        if len(owners) != 1:
            raise Unsupported(f"ambiguous column {column.name}")
        return owners[0]

    # ---- lineage --------------------------------------------------------------
    def lineage(self, name: str, stack: frozenset = frozenset()) -> list[str]:
        """Leaf ``table.column`` names an output column derives from."""
        from sqlglot import exp

        if name in self._memo:
            return self._memo[name]
        if (id(self), name) in stack:
            raise Unsupported("cycle")
        stack = stack | {(id(self), name)}
        matches = [e for n, e in self.outputs() if n == name]
        if not matches:
            raise Unsupported(f"no output {name}")
        expr = matches[0]
        leaves: set[str] = set()
        if isinstance(expr, tuple):  # star pass-through
            leaves |= set(self._through(*expr, stack))
        else:
            if any(isinstance(n, (exp.Subquery, exp.Exists)) for n in expr.walk()):
                raise Unsupported("subquery in an expression")
            for col in expr.find_all(exp.Column):
                if isinstance(col.this, exp.Star):
                    continue
                if not col.table and not any(col.name in self.source_columns(a) for a in self.sources) \
                        and col.name in {n for n, _ in self.outputs()} and col.name != name:
                    leaves |= set(self.lineage(col.name, stack))  # a reference to another select alias
                    continue
                leaves |= set(self._through(self._owner(col), col.name, stack))
        result = sorted(leaves)
        self._memo[name] = result
        return result

    def _through(self, alias: str, column: str, stack: frozenset) -> list[str]:
        src = self.sources[alias]
        if src.query is not None:
            return src.query.lineage(column, stack)
        return [f"{src.table}.{column}"]


def resolve(tree: Any, schema: dict[str, dict[str, str]]) -> tuple[tuple[str, ...], dict[str, list[str]]] | None:
    """(output columns, lineage per output) for a parsed query, or None when unsupported.

    ``schema`` maps quoted relation names (as the builder writes them) to columns.
    """
    from sqlglot import exp

    cols = {k.strip('"'): list(v) for k, v in schema.items()}
    try:
        if not isinstance(tree, exp.Select):
            raise Unsupported(type(tree).__name__)
        root = _Select(tree, {}, _SchemaView(cols))
        outputs = root.outputs()
        names = tuple(n for n, _ in outputs)
        if len(set(names)) != len(names):
            raise Unsupported("duplicate output names")
        return names, {n: root.lineage(n) for n in names}
    except Unsupported:
        return None
    except (AttributeError, KeyError, TypeError):
        return None


class _SchemaView(dict):
    """Unknown tables give None (not KeyError), so a star over them is Unsupported."""

    def get(self, key, default=None):
        return super().get(key, default)
