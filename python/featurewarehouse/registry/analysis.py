"""Model-level graph walks and the per-model SQL analysis pass (with its cache).

Each model is analysed once, upstream before downstream, so a view's inputs'
columns are known when its stars are expanded. Results are cached by the
analysed SQL and its inputs' columns.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from featurewarehouse.registry.records import CatalogColumns
from featurewarehouse.registry.shapes import ShapeCache, digest, schema_shape
from featurewarehouse.registry.sql import ModelSql, Relations, analyze, choose_sql, parse_tokens, quote, tokenize

CACHE_VERSION = 2  # 2: the SQL text is hashed outside the JSON of the key


class Graph:
    def __init__(self, manifest: dict[str, Any]):
        self.parents: dict[str, list[str]] = manifest.get("parent_map") or {}
        self.children: dict[str, list[str]] = manifest.get("child_map") or {}
        if not self.parents:
            for uid, node in manifest.get("nodes", {}).items():
                self.parents[uid] = list(node.get("depends_on", {}).get("nodes", []))
        if not self.children:
            for uid, ps in self.parents.items():
                for p in ps:
                    self.children.setdefault(p, []).append(uid)
        self._anc: dict[str, frozenset[str]] = {}

    def ancestors(self, uid: str) -> frozenset[str]:
        if uid in self._anc:
            return self._anc[uid]
        stack, seen = [uid], set()
        while stack:  # iterative: deep staging chains must not hit the recursion limit
            cur = stack.pop()
            for p in self.parents.get(cur, []):
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        result = frozenset(seen)
        self._anc[uid] = result
        return result

    def descendants(self, uid: str) -> set[str]:
        stack, seen = [uid], set()
        while stack:
            for c in self.children.get(stack.pop(), []):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return seen


def display(uid: str, manifest: dict[str, Any], rel: Relations) -> str | None:
    if uid.startswith("source."):
        return rel.by_uid.get(uid)
    node = manifest.get("nodes", {}).get(uid)
    if node is None or node.get("resource_type") not in ("model", "seed", "snapshot"):
        return None
    return node["name"]


def analyze_models(
    uids: list[str],
    manifest: dict[str, Any],
    catalog: CatalogColumns | dict[str, Any] | None,
    rel: Relations,
    graph: Graph,
    dialect: str,
    previous_manifest: Any,
    cache_in: dict[str, Any],
    cache_out: dict[str, Any],
    stats: dict[str, int],
) -> dict[str, ModelSql]:
    """Parse and trace each model once, upstream before downstream (or take it from the cache)."""
    nodes = manifest["nodes"]
    wanted = set(uids)
    for uid in uids:
        wanted |= {a for a in graph.ancestors(uid) if a in nodes and nodes[a].get("resource_type") == "model"}
    done: dict[str, ModelSql] = {}
    visiting: set[str] = set()
    shapes = ShapeCache()
    catalog_columns = CatalogColumns.of(catalog)

    def schema_of(uid: str) -> dict[str, str] | None:
        cols = catalog_columns(uid)
        if cols:
            return cols
        if uid in done and done[uid].outputs is not None:
            return {c: "unknown" for c in done[uid].outputs}
        holder = nodes.get(uid) or manifest.get("sources", {}).get(uid) or {}
        declared = holder.get("columns") or {}
        return {c: (v.get("data_type") or "unknown") for c, v in declared.items()} or None

    def visit(uid: str) -> None:
        if uid in done or uid in visiting:
            return
        visiting.add(uid)
        node = nodes[uid]
        for p in node.get("depends_on", {}).get("nodes", []):
            if p in wanted:
                visit(p)
        text, origin = choose_sql(node, manifest, rel, previous_manifest)
        m = ModelSql(name=node["name"], text=text, origin=origin)
        if text:
            schema: dict[str, dict[str, str]] = {}
            for p in node.get("depends_on", {}).get("nodes", []):
                cols = schema_of(p)
                if cols and p in rel.by_uid:
                    schema[quote(rel.by_uid[p])] = cols
            # the SQL text is hashed as it is (JSON-escaping 2 kB of SQL per model costs more than the hash)
            key = hashlib.sha256(json.dumps([dialect, schema], sort_keys=True).encode() + b"\x00"
                                 + text.encode()).hexdigest()
            hit = cache_in.get(key)
            if hit is not None:
                m.outputs = tuple(hit["outputs"]) if hit["outputs"] is not None else None
                m.lineage, m.fingerprint, m.error = hit["lineage"], hit["fingerprint"], hit["error"]
                stats["cached"] += 1
            else:
                analyze_one(m, schema, dialect, shapes)
                stats["analysed"] += 1
            cache_out[key] = {"outputs": list(m.outputs) if m.outputs is not None else None,
                              "lineage": m.lineage, "fingerprint": m.fingerprint, "error": m.error}
        done[uid] = m
        visiting.discard(uid)

    for uid in sorted(wanted):
        visit(uid)
    return done


def analyze_one(m: ModelSql, schema: dict[str, dict[str, str]], dialect: str, shapes: ShapeCache) -> None:
    """Tokenize, fingerprint, then take the outcome of a model of the same shape, or parse and analyse."""
    tokens, m.error = tokenize(m.text, dialect)
    if tokens is None:
        return
    m.fingerprint, shape, texts, number = digest(tokens)
    key = (shape, schema_shape(schema, number))
    shared = shapes.lookup(key, texts)
    if shared is not None:
        m.outputs, m.lineage = shared
        return
    m.tree, m.error = parse_tokens(tokens, m.text, dialect)
    if m.tree is None:
        return
    tree = m.tree
    if analyze(m, schema, dialect) and m.error is None and m.outputs is not None:
        shapes.add(key, texts, number, tree, m.outputs, m.lineage)
    m.tree = None  # qualified in place: not the model's own SQL any more
