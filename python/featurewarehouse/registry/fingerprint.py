"""Definition fingerprints: a hash of the normalized SQL of a model.

sqlglot parses the (de-qualified) compiled SQL and writes it back in one
canonical form: comments dropped, whitespace and keyword case gone, unquoted
identifiers lower-cased, ``x as y`` and ``x y`` alike. Formatting edits keep the
fingerprint; any change in logic (a column, a constant, a join, a window) moves it.
"""
from __future__ import annotations

import hashlib
from typing import Any

FINGERPRINT_LENGTH = 16


def normalized_sql(tree: Any, dialect: str) -> str:
    """The canonical text of a parsed statement (upper-cases keyword strings in place)."""
    from sqlglot import exp

    # sqlglot keeps some keywords as the strings it read: window frames
    # ("range ... preceding") and bare words such as interval units.
    for spec in tree.find_all(exp.WindowSpec):
        for key in ("kind", "start_side", "end_side", "start", "end"):
            value = spec.args.get(key)
            if isinstance(value, str):
                spec.set(key, value.upper())
    for var in tree.find_all(exp.Var):
        if isinstance(var.this, str):
            var.set("this", var.this.upper())
    return tree.sql(dialect=dialect, normalize=True, comments=False, pretty=False)


def fingerprint_tree(tree: Any, dialect: str) -> str:
    return hashlib.sha256(normalized_sql(tree, dialect).encode()).hexdigest()[:FINGERPRINT_LENGTH]


def fingerprint_sql(sql: str, dialect: str = "duckdb") -> str:
    """Fingerprint of a SQL string; raises ``ValueError`` if it does not parse.

    >>> fingerprint_sql("select a from t -- note") == fingerprint_sql("SELECT  a\\nFROM t")
    True
    >>> fingerprint_sql("select a from t") == fingerprint_sql("select b from t")
    False
    """
    from featurewarehouse.registry.sql import parse

    tree, error = parse(sql, dialect)
    if tree is None:
        raise ValueError(error)
    return fingerprint_tree(tree, dialect)
