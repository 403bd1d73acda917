"""The SQL of a model, ready for sqlglot: chosen, de-qualified, parsed once.

dbt writes relation names into compiled SQL (``"warehouse"."main"."stg_x"``);
they depend on where the warehouse lives, so before analysis every relation of
a model or source the node depends on is replaced by a stable quoted name:
``"stg_x"`` for a model, ``"source:raw.transactions"`` for a source. The
fingerprint then does not change when the DuckDB file moves, and lineage reads
``stg_x.amount`` rather than a database path.

Which SQL: the raw code with ``ref()``, ``source()``, ``this`` and ``config()``
substituted the way dbt compiles them (a "light render": no dbt run needed, and
line numbers are the file's); when other Jinja is used, the node's
``compiled_code`` if the manifest has it (``dbt compile``/``build``), else the
compiled code of the previous manifest when the node's checksum has not changed.
With none of these the model's SQL checks are skipped and the build says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_CONFIG_CALL = re.compile(r"\{\{-?\s*config\s*\((?:[^{}]|\{[^{}]*\})*\)\s*-?\}\}", re.S)
_STR = r"""\s*(?:'([^']*)'|"([^"]*)")\s*"""
_REF = re.compile(r"\{\{-?\s*ref\s*\(" + _STR + r"(?:," + _STR + r")?(?:,\s*v(?:ersion)?\s*=\s*[^)]*)?\)\s*-?\}\}")
_SOURCE = re.compile(r"\{\{-?\s*source\s*\(" + _STR + r"," + _STR + r"\)\s*-?\}\}")
_THIS = re.compile(r"\{\{-?\s*this\s*-?\}\}")
_JINJA_LEFT = re.compile(r"\{\{|\{%")


def source_alias(source_name: str, table: str) -> str:
    """The stable name a source relation gets in analysed SQL.

    >>> source_alias("raw", "transactions")
    'source:raw.transactions'
    """
    return f"source:{source_name}.{table}"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class ModelSql:
    """The analysed SQL of one model and what sqlglot made of it."""

    name: str
    text: str = ""  # relations replaced by stable names
    origin: str = ""  # compiled | previous-compiled | rendered | "" (none)
    tree: Any = None  # sqlglot expression (parsed, not qualified), or None
    error: str | None = None
    outputs: tuple[str, ...] | None = None  # output column names; None if unknown
    lineage: dict[str, list[str]] = field(default_factory=dict)  # column -> ["model.col", ...]


class Relations:
    """Maps every model/source relation name in the manifest to its stable alias."""

    def __init__(self, manifest: dict[str, Any]):
        self.by_uid: dict[str, str] = {}
        self.relation_of: dict[str, str] = {}  # uid -> relation_name
        self.alias_to_uid: dict[str, str] = {}
        for uid, node in manifest.get("nodes", {}).items():
            if node.get("resource_type") in ("model", "seed", "snapshot"):
                self._add(uid, node.get("name", ""), node.get("relation_name"))
        for uid, src in manifest.get("sources", {}).items():
            self._add(uid, source_alias(src.get("source_name", ""), src.get("name", "")), src.get("relation_name"))

    def _add(self, uid: str, alias: str, relation: str | None) -> None:
        self.by_uid[uid] = alias
        self.alias_to_uid[alias] = uid
        if relation:
            self.relation_of[uid] = relation


def light_render(node: dict[str, Any], manifest: dict[str, Any], rel: Relations) -> str | None:
    """Render ``ref``/``source``/``this``/``config`` in raw code; None when other Jinja remains."""
    raw = node.get("raw_code") or ""
    text = _JINJA_COMMENT.sub(lambda m: "\n" * m[0].count("\n"), raw)
    text = _CONFIG_CALL.sub(lambda m: "\n" * m[0].count("\n"), text)
    deps = node.get("depends_on", {}).get("nodes", [])
    by_name: dict[str, str] = {}
    by_source: dict[tuple[str, str], str] = {}
    for uid in deps:
        if uid.startswith("source."):
            src = manifest.get("sources", {}).get(uid, {})
            by_source[(src.get("source_name", ""), src.get("name", ""))] = uid
        else:
            by_name[uid.rsplit(".", 1)[-1]] = uid
            dep = manifest.get("nodes", {}).get(uid, {})
            if dep.get("name"):
                by_name[dep["name"]] = uid
    failed = False

    def ref(m: re.Match) -> str:
        nonlocal failed
        first = m[1] if m[1] is not None else m[2]
        second = m[3] if m[3] is not None else m[4]
        name = second if second is not None else first
        uid = by_name.get(name)
        if uid is None:
            failed = True
            return m[0]
        return quote(rel.by_uid.get(uid, name))

    def source(m: re.Match) -> str:
        nonlocal failed
        key = (m[1] if m[1] is not None else m[2], m[3] if m[3] is not None else m[4])
        uid = by_source.get(key)
        if uid is None:
            failed = True
            return m[0]
        return quote(rel.by_uid[uid])

    text = _REF.sub(ref, text)
    text = _SOURCE.sub(source, text)
    text = _THIS.sub(quote(node.get("name", "")), text)
    if failed or _JINJA_LEFT.search(text):
        return None
    return text


def dequalify(text: str, node: dict[str, Any], rel: Relations) -> str:
    """Replace the dependencies' rendered relation names by their stable aliases."""
    pairs = []
    for uid in node.get("depends_on", {}).get("nodes", []):
        relation = rel.relation_of.get(uid)
        if relation:
            pairs.append((relation, quote(rel.by_uid[uid])))
    own = node.get("relation_name")
    if own:
        pairs.append((own, quote(node.get("name", ""))))
    # longest first, so a relation that is a prefix of another is not replaced inside it
    for relation, alias in sorted(pairs, key=lambda p: -len(p[0])):
        text = text.replace(relation, alias)
    return text


def choose_sql(
    node: dict[str, Any],
    manifest: dict[str, Any],
    rel: Relations,
    previous: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """(sql, origin) for a node; ("", "") when no SQL can be had without running dbt."""
    # The light render first: for SQL whose only Jinja is ref/source/config it is
    # what dbt compiles, minus warehouse-specific relation text (DuckDB external
    # sources compile to read_parquet('<path>')), and its lines are the file's lines.
    rendered = light_render(node, manifest, rel)
    if rendered is not None:
        return rendered, "rendered"
    compiled = node.get("compiled_code")
    if compiled:
        return dequalify(compiled, node, rel), "compiled"
    if previous:
        old = previous.get("nodes", {}).get(node.get("unique_id", ""), {})
        if old.get("compiled_code") and old.get("checksum") == node.get("checksum"):
            return dequalify(old["compiled_code"], node, rel), "previous-compiled"
    return "", ""


def parse(text: str, dialect: str):
    """Parse one statement; returns (tree, error)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        statements = [s for s in sqlglot.parse(text, dialect=dialect) if s is not None]
    except SqlglotError as exc:
        return None, str(exc).splitlines()[0]
    if len(statements) != 1:
        return None, f"expected one SQL statement, found {len(statements)}"
    return statements[0], None


def analyze(model: ModelSql, schema: dict[str, dict[str, str]], dialect: str) -> None:
    """Output columns and per-column lineage of a parsed model (qualifies a copy)."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    tree = model.tree
    if tree is None or not isinstance(tree, exp.Query):
        return
    try:
        qualified = qualify(
            tree.copy(), dialect=dialect, schema=schema, validate_qualify_columns=False, identify=False
        )
    except (SqlglotError, KeyError, ValueError) as exc:
        model.error = f"cannot resolve columns: {str(exc).splitlines()[0]}"
        return
    selects = qualified.selects
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and isinstance(s.this, exp.Star)) for s in selects):
        model.outputs = None  # a star sqlglot could not expand: columns unknown
    else:
        model.outputs = tuple(s.alias_or_name for s in selects)
    if model.outputs is None:
        return
    try:
        scope = build_scope(qualified)
        nodes = lineage(None, qualified, schema, dialect=dialect, scope=scope, copy=False)
    except (SqlglotError, KeyError, ValueError, AttributeError) as exc:
        model.error = f"cannot trace column lineage: {str(exc).splitlines()[0]}"
        return
    for column, root in nodes.items():
        leaves: set[str] = set()
        for n in root.walk():
            if n.downstream or not isinstance(n.source, exp.Table):
                continue
            table = n.source.name
            if not table:
                continue
            leaves.add(f"{table}.{n.name.rsplit('.', 1)[-1].strip(chr(34))}")
        model.lineage[column] = sorted(leaves)
