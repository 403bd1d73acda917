"""Ranked keyword search over feature views and features.

Each query term is scored against each field of a document, the best field
counting; a document's score is the sum over terms, and documents matching
more of the terms always rank first. Field weights: a name matters more than
a tag, a tag or owner more than a description, and the columns a feature is
computed from (its lineage) least. A term matches a word exactly (full
weight), as a word prefix (``charge`` in ``chargeback``: 60%), or inside a
word (30%).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from featurewarehouse.registry.model import Registry

_WORD = re.compile(r"[a-z0-9]+")
WEIGHTS = {"name": 10.0, "view": 4.0, "tags": 5.0, "owner": 4.0, "entity": 4.0,
           "description": 3.0, "columns": 1.5}


def words(text: str) -> list[str]:
    """Lower-case words; ``snake_case`` and ``camelCase`` split.

    >>> words("txn_count_7d chargebackRate")
    ['txn', 'count', '7d', 'chargeback', 'rate']
    """
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Hit:
    kind: str  # feature_view | feature
    ref: str  # view, or view:feature
    score: float
    matched: tuple[str, ...]  # the fields that matched
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "score": round(self.score, 3),
                "matched": list(self.matched), "description": self.description}


@dataclass
class _Doc:
    kind: str
    ref: str
    description: str
    fields: dict[str, set[str]] = field(default_factory=dict)
    exact_names: set[str] = field(default_factory=set)


def _documents(registry: Registry) -> list[_Doc]:
    docs = []
    for v in registry.feature_views:
        lineage = registry.column_lineage.get(v.name, {})
        cols = {*v.key_names, v.timestamp, *(c for c in (v.created_timestamp, v.available_timestamp) if c)}
        upstream_cols = {u.rsplit(".", 1)[-1] for ups in lineage.values() for u in ups}
        doc = _Doc("feature_view", v.name, v.description, {
            "name": set(words(v.name)),
            "tags": {w for t in v.tags for w in words(t)},
            "owner": set(words(v.owner or "")),
            "entity": {w for e in v.entities for w in words(e)},
            "description": set(words(v.description)),
            "columns": {w for c in cols | upstream_cols | {f.name for f in v.features} for w in words(c)},
        }, {v.name.lower()})
        docs.append(doc)
        for f in v.features:
            fcols = {u.rsplit(".", 1)[-1] for u in lineage.get(f.name, ())}
            docs.append(_Doc("feature", f.ref, f.description, {
                "name": set(words(f.name)),
                "view": set(words(v.name)),
                "tags": {w for t in (*f.tags, *v.tags) for w in words(t)},
                "owner": set(words(v.owner or "")),
                "entity": {w for e in v.entities for w in words(e)},
                "description": set(words(f.description)),
                "columns": {w for c in fcols for w in words(c)},
            }, {f.name.lower(), f.ref.lower()}))
    return docs


def _term_score(term: str, vocab: set[str]) -> float:
    if term in vocab:
        return 1.0
    if any(w.startswith(term) for w in vocab):
        return 0.6
    if len(term) >= 3 and any(term in w for w in vocab):
        return 0.3
    return 0.0


def search(registry: Registry, query: str, *, limit: int = 20) -> list[Hit]:
    """Features and views ranked for ``query``; those matching no term are left out.

    >>> search(Registry(entities=(), feature_views=()), "spend")
    []
    """
    raw = query.strip().lower()
    terms = list(dict.fromkeys(words(query)))
    if not terms:
        return []
    scored = []
    for doc in _documents(registry):
        total, covered, matched = 0.0, 0, set()
        for term in terms:
            best, best_field = 0.0, None
            for fname, vocab in doc.fields.items():
                s = _term_score(term, vocab) * WEIGHTS[fname]
                if s > best:
                    best, best_field = s, fname
            if best_field:
                covered += 1
                total += best
                matched.add(best_field)
        if not covered:
            continue
        if raw in doc.exact_names:
            total += 20.0  # the whole query is this feature's or view's name
        scored.append((covered, total, doc, matched))
    # more terms matched first, then score; a feature before its view on ties; then by name
    scored.sort(key=lambda s: (-s[0], -s[1], s[2].kind != "feature", s[2].ref))
    return [Hit(d.kind, d.ref, t, tuple(sorted(m)), d.description) for _, t, d, m in scored[:limit]]
