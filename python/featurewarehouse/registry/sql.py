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
compiled code of the previous manifest when the node's checksum has not changed;
else, for Jinja expressions only, the raw code with them kept as string literals
("approximate": see :func:`placeholder_render`). With none of these the model's
SQL checks are skipped and the build says so.
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
    fingerprint: str = ""
    lineage: dict[str, list[str]] = field(default_factory=dict)  # column -> ["model.col", ...]


class Relations:
    """Maps every model/source relation name in the manifest to its stable alias."""

    def __init__(self, manifest: dict[str, Any]):
        self.by_uid: dict[str, str] = {}
        self.relation_of: dict[str, str] = {}  # uid -> relation_name
        for uid, node in manifest.get("nodes", {}).items():
            if node.get("resource_type") in ("model", "seed", "snapshot"):
                self._add(uid, node.get("name", ""), node.get("relation_name"))
        for uid, src in manifest.get("sources", {}).items():
            self._add(uid, source_alias(src.get("source_name", ""), src.get("name", "")), src.get("relation_name"))

    def _add(self, uid: str, alias: str, relation: str | None) -> None:
        self.by_uid[uid] = alias
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


_EXPR = re.compile(r"\{\{.*?\}\}", re.S)
# an expression right after `as` (cast(x as {{ ... }})) or `::` stands where a type goes
_TYPE_POSITION = re.compile(r"(?i)(\bas|::)\s*\Z")


def placeholder_render(node: dict[str, Any], manifest: dict[str, Any], rel: Relations) -> str | None:
    """Like :func:`light_render`, with any other ``{{ expression }}`` kept as a string literal.

    An approximation for models that call macros in expression position
    (``{{ dbt.datediff(...) }}``) when no compiled code is at hand: the macro
    call's text still counts in the fingerprint, its body does not; columns
    passed to it are missing from lineage. ``{% %}`` blocks cannot be handled.
    """
    raw = node.get("raw_code") or ""
    if "{%" in raw:
        return None
    stand_in = dict(node)
    protected: list[str] = []

    def keep(m: re.Match) -> str:
        if re.match(r"\{\{-?\s*(ref|source|this|config)\b", m[0]):
            return m[0]
        if _TYPE_POSITION.search(m.string, 0, m.start()):
            # a type macro (cast(x as {{ fw_type_double() }})): a string literal there is no SQL;
            # a type name made of the call's text parses, and still counts in the fingerprint
            return "fw_jinja_" + re.sub(r"\W+", "_", m[0][2:-2]).strip("_")
        protected.append(m[0])
        return f"@@FW{len(protected) - 1}@@"

    stand_in["raw_code"] = _EXPR.sub(keep, raw)
    text = light_render(stand_in, manifest, rel)
    if text is None or stand_in["raw_code"] == raw:
        return None
    return re.sub(r"@@FW(\d+)@@", lambda m: "'" + protected[int(m[1])].replace("'", "''") + "'", text)


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
    previous: Any = None,
) -> tuple[str, str]:
    """(sql, origin) for a node; ("", "") when no SQL can be had without running dbt.

    ``previous`` is the previous manifest, or a function returning it (read only if needed).
    """
    # The light render first: for SQL whose only Jinja is ref/source/config it is
    # what dbt compiles, minus warehouse-specific relation text (DuckDB external
    # sources compile to read_parquet('<path>')), and its lines are the file's lines.
    rendered = light_render(node, manifest, rel)
    if rendered is not None:
        return rendered, "rendered"
    compiled = node.get("compiled_code")
    if compiled:
        return dequalify(compiled, node, rel), "compiled"
    if callable(previous):
        previous = previous()
    if previous:
        old = previous.get("nodes", {}).get(node.get("unique_id", ""), {})
        if old.get("compiled_code") and old.get("checksum") == node.get("checksum"):
            return dequalify(old["compiled_code"], node, rel), "previous-compiled"
    approx = placeholder_render(node, manifest, rel)
    if approx is not None:
        return approx, "approximate"
    return "", ""


def parse(text: str, dialect: str):
    """Tokenize once, fingerprint the tokens, parse one statement: (tree, fingerprint, error)."""
    from featurewarehouse.registry.fingerprint import fingerprint_tokens

    tokens, error = tokenize(text, dialect)
    if tokens is None:
        return None, "", error
    fingerprint = fingerprint_tokens(tokens)
    tree, error = parse_tokens(tokens, text, dialect)
    return tree, fingerprint, error


def tokenize(text: str, dialect: str) -> tuple[list[Any] | None, str | None]:
    """(tokens, None), or (None, error) when the SQL does not tokenize."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import SqlglotError

    try:
        return Dialect.get_or_raise(dialect).tokenize(text), None
    except SqlglotError as exc:
        return None, str(exc).splitlines()[0]


def parse_tokens(tokens: list[Any], text: str, dialect: str) -> tuple[Any, str | None]:
    """(one statement's tree, None), or (None, error)."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import SqlglotError

    try:
        statements = [s for s in Dialect.get_or_raise(dialect).parser().parse(tokens, text) if s is not None]
    except SqlglotError as exc:
        return None, str(exc).splitlines()[0]
    if len(statements) != 1:
        return None, f"expected one SQL statement, found {len(statements)}"
    return statements[0], None


def analyze(model: ModelSql, schema: dict[str, dict[str, str]], dialect: str, *, fast: bool = True) -> bool:
    """Output columns and per-column lineage of a parsed model; True when the fast resolver did it.

    The tree is qualified in place (a copy costs as much as the parse):
    afterwards ``model.tree`` is no longer the model's SQL.
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    tree = model.tree
    if tree is None or not isinstance(tree, exp.Query):
        return False
    from featurewarehouse.registry.resolve import resolve

    work = inline_named_windows(tree)
    resolved = resolve(work, schema) if fast else None  # common shapes, a fraction of qualify + lineage
    if resolved is not None:
        model.outputs, model.lineage = resolved
        return True
    schema = {**schema, **_inferred_schemas(work, schema)}
    try:
        qualified = qualify(work, dialect=dialect, schema=schema, validate_qualify_columns=False, identify=False,
                            quote_identifiers=False)
    except (SqlglotError, KeyError, ValueError) as exc:
        model.error = f"cannot resolve columns: {str(exc).splitlines()[0]}"
        return False
    selects = qualified.selects
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and isinstance(s.this, exp.Star)) for s in selects):
        model.outputs = None  # a star sqlglot could not expand: columns unknown
    else:
        model.outputs = tuple(s.alias_or_name for s in selects)
    if model.outputs is None:
        return False
    try:
        scope = build_scope(qualified)
        nodes = lineage(None, qualified, schema, dialect=dialect, scope=scope, copy=False, trim_selects=False)
    except (SqlglotError, KeyError, ValueError, AttributeError) as exc:
        model.error = f"cannot trace column lineage: {str(exc).splitlines()[0]}"
        return False
    for column, root in nodes.items():
        leaves: set[str] = set()
        stack = [(root, None)]
        seen: set[int] = set()
        while stack:
            n, parent = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if n.downstream:
                stack.extend((d, n) for d in n.downstream)
                continue
            if not isinstance(n.source, exp.Table) or not n.source.name:
                continue
            name = n.name.rsplit(".", 1)[-1].strip('"')
            if name == "*" and parent is not None:
                # "select * from <table of unknown columns>": the column keeps the name it had one step up
                name = parent.name.rsplit(".", 1)[-1].strip('"')
            leaves.add(f"{n.source.name}.{name}")
        model.lineage[column] = sorted(leaves)
    return False


def inline_named_windows(tree: Any) -> Any:
    """``over w ... window w as (...)`` -> ``over (...)``, so lineage sees partition and order columns."""
    from sqlglot import exp

    for select in list(tree.find_all(exp.Select)):
        defs = {d.this.name: d for d in select.args.get("windows") or []}
        if not defs:
            continue
        for win in select.find_all(exp.Window):
            alias = win.args.get("alias")
            name = alias.name if isinstance(alias, exp.Identifier) else None
            if isinstance(win.this, exp.Identifier) or name not in defs:
                continue
            d = defs[name]
            for key in ("partition_by", "order", "spec"):
                if not win.args.get(key) and d.args.get(key):
                    win.set(key, d.args[key].copy() if hasattr(d.args[key], "copy") else
                            [x.copy() for x in d.args[key]])
            win.set("alias", None)
        select.set("windows", None)
    return tree


def _inferred_schemas(tree: Any, schema: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Columns for relations of unknown schema (a source with no declared columns and no catalog).

    Every column name the query references is assumed to be possible in them:
    enough for sqlglot to attribute columns and expand stars. It can make a
    model seem to produce a column it does not; it never hides one it does.
    """
    from sqlglot import exp

    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    unknown = {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes
               and quote(t.name) not in schema and t.name not in schema}
    if not unknown:
        return {}
    names = {c.name for c in tree.find_all(exp.Column) if c.name}
    return {quote(t): {n: "unknown" for n in sorted(names)} for t in unknown}
