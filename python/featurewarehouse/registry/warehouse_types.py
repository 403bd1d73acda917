"""Column types of the built feature views, read from the warehouse in one query.

The registry checks key and timestamp types against the entity declarations.
dbt's ``target/catalog.json`` has the types, but only ``dbt docs generate``
writes it and the documented flow never runs that; the YAML ``data_type`` is
what the analyst meant, not what the SQL produces. So when there is no
catalog, ``fwctl registry build`` asks the warehouse itself: one
``information_schema.columns`` query for every feature view's relation (a
cheap metadata read, no table scan). A view not built yet has no row there; a
warehouse that cannot be opened (not built, or another process holds the
DuckDB file) leaves the check to the YAML ``data_type``, with a warning.

The result has the shape of dbt's catalog (``{"nodes": {uid: {"columns":
{name: {"type": ...}}}}}``) so the builder reads it the same way.
"""
from __future__ import annotations

import re
from typing import Any


_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def _relation_parts(node: dict[str, Any]) -> tuple[str, str] | None:
    """(schema, table) of a model: from the manifest's fields, else its ``relation_name``."""
    schema, name = node.get("schema"), node.get("alias") or node.get("name")
    if schema and name:
        return str(schema), str(name)
    parts = [q.replace('""', '"') if q else b for q, b in _PART.findall(node.get("relation_name") or "")]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def columns_query(pairs: list[tuple[str, str]]) -> str:
    """One query for the columns of every (schema, table), in ordinal order.

    >>> print(columns_query([("main", "v")]))  # doctest: +NORMALIZE_WHITESPACE
    select table_schema, table_name, column_name, data_type from information_schema.columns
    where (table_schema, table_name) in (('main', 'v')) order by table_schema, table_name, ordinal_position
    """
    wanted = ", ".join(f"({_literal(s)}, {_literal(t)})" for s, t in pairs)
    return ("select table_schema, table_name, column_name, data_type from information_schema.columns\n"
            f"where (table_schema, table_name) in ({wanted}) order by table_schema, table_name, ordinal_position")


def warehouse_catalog(config: Any, manifest: dict[str, Any], uids: list[str]) -> tuple[dict[str, Any] | None, str]:
    """``(catalog, note)``: the feature views' column types from the warehouse, or None and why not."""
    from featurewarehouse.errors import FwError
    from featurewarehouse.offline.warehouse import connect, engine_class, read_target

    nodes = manifest.get("nodes") or {}
    by_pair = {}
    for uid in uids:
        parts = _relation_parts(nodes.get(uid) or {})
        if parts:
            by_pair[parts] = uid
    if not by_pair:
        return None, "no feature views"
    try:
        target = read_target(config)
        if not engine_class(target).is_built(config, target):
            return None, "the warehouse is not built yet"
        wh = connect(config, read_only=True)
    except FwError as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - any driver error: the check falls back to the YAML types
        return None, f"{type(exc).__name__}: {exc}"
    try:
        table = wh.fetch_arrow(columns_query(sorted(by_pair)))
    except Exception as exc:  # noqa: BLE001 - as above
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        wh.close()
    out: dict[str, Any] = {}
    for schema, name, column, dtype in zip(*(table.column(i).to_pylist() for i in range(4))):
        uid = by_pair.get((schema, name))
        if uid is not None:
            out.setdefault(uid, {"columns": {}})["columns"][column] = {"name": column, "type": dtype}
    return {"nodes": out}, "read from the warehouse"
