"""Column-level lineage: which upstream columns a feature derives from.

The build traces every output column of each feature view, and of each model
upstream of one, through CTEs, subqueries and joins with sqlglot
(``Registry.column_lineage``: model -> column -> ``["upstream.column", ...]``).
This module walks that graph across models, down to the sources.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from featurewarehouse.refs import FeatureRef
from featurewarehouse.registry.model import Registry


@dataclass
class LineageNode:
    """``model.column`` and the columns it is computed from (empty for a source column)."""

    model: str
    column: str
    kind: str  # feature | model | source | untraced
    parents: list["LineageNode"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model}.{self.column}"

    def leaves(self) -> list["LineageNode"]:
        """The columns the walk ends at (sources, or models that could not be traced)."""
        if not self.parents:
            return [self]
        out: dict[str, LineageNode] = {}
        for p in self.parents:
            for leaf in p.leaves():
                out.setdefault(leaf.name, leaf)
        return [out[k] for k in sorted(out)]

    def to_dict(self) -> dict:
        return {"model": self.model, "column": self.column, "kind": self.kind,
                "parents": [p.to_dict() for p in self.parents]}


def split_column(qualified: str) -> tuple[str, str]:
    """``"stg_x.amount"`` -> ("stg_x", "amount"); ``"source:raw.t.c"`` -> ("source:raw.t", "c").

    >>> split_column("source:raw.transactions.amount")
    ('source:raw.transactions', 'amount')
    """
    model, _, column = qualified.rpartition(".")
    return model, column


def column_lineage(registry: Registry, ref: str | FeatureRef) -> LineageNode:
    """The lineage tree of one feature (``view:feature``), across models, to the sources.

    Raises ``ConfigError`` (with "did you mean") for an unknown view or feature.
    """
    parsed = ref if isinstance(ref, FeatureRef) else FeatureRef.parse(ref)
    feature = registry.feature(parsed)
    graph = registry.column_lineage
    memo: dict[str, LineageNode] = {}

    def node(model: str, column: str, kind: str, stack: frozenset[str]) -> LineageNode:
        key = f"{model}.{column}"
        if key in memo:
            return memo[key]
        parents_of = (graph.get(model) or {}).get(column)
        if kind != "feature":
            if model.startswith("source:"):
                kind = "source"
            elif parents_of is None:
                kind = "untraced"
        n = LineageNode(model=model, column=column, kind=kind)
        for upstream in parents_of or ():
            if upstream in stack:  # a self-referencing (incremental) model: stop, don't loop
                continue
            m, c = split_column(upstream)
            n.parents.append(node(m, c, "model", stack | {key}))
        memo[key] = n
        return n

    return node(feature.view, feature.name, "feature", frozenset())


def source_columns(registry: Registry, ref: str | FeatureRef) -> list[str]:
    """The source (or untraced) columns a feature ends at, sorted."""
    return [leaf.name for leaf in column_lineage(registry, ref).leaves()]
