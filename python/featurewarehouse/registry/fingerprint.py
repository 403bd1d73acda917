"""Definition fingerprints: a hash of the model's SQL, normalized by sqlglot's tokenizer.

The SQL is tokenized with the warehouse's dialect and hashed token by token:
comments and whitespace are not tokens; keywords and operators count by their
token type (``SELECT``/``select``, ``<>``/``!=`` alike); unquoted identifiers
count lower-cased, quoted ones, strings and numbers exactly; ``AS`` before an
alias is dropped (``x as y`` = ``x y``). So formatting edits keep the
fingerprint and any change in logic (a column, a constant, a join, a window
bound) moves it. Hashing tokens rather than regenerating SQL from the parse
tree costs a fifth as much, which matters at a thousand views.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable

FINGERPRINT_LENGTH = 16


def _normalized_tokens(tokens: Iterable[Any]) -> Iterable[str]:
    from sqlglot.tokens import TokenType

    literal = {TokenType.STRING, TokenType.NUMBER, TokenType.NATIONAL_STRING, TokenType.BIT_STRING,
               TokenType.HEX_STRING, TokenType.BYTE_STRING, TokenType.RAW_STRING}
    for tok in tokens:
        tt = tok.token_type
        if tt == TokenType.ALIAS:
            continue
        if tt == TokenType.VAR:
            yield "v:" + tok.text.lower()
        elif tt == TokenType.IDENTIFIER:
            yield "q:" + tok.text
        elif tt in literal:
            yield f"{tt.name}:{tok.text}"
        else:
            yield tt.name


def fingerprint_tokens(tokens: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for part in _normalized_tokens(tokens):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:FINGERPRINT_LENGTH]


def fingerprint_sql(sql: str, dialect: str = "duckdb") -> str:
    """Fingerprint of a SQL string; raises ``ValueError`` if it does not tokenize.

    >>> fingerprint_sql("select a from t -- note") == fingerprint_sql("SELECT  a\\nFROM t")
    True
    >>> fingerprint_sql("select a from t") == fingerprint_sql("select b from t")
    False
    """
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import SqlglotError

    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError as exc:
        raise ValueError(str(exc)) from exc
    return fingerprint_tokens(tokens)
