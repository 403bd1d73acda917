"""One token pass per model (fingerprint + SQL shape), and analysis shared by models of one shape.

Generated feature views are often one SQL text with other names in it: the
same CTEs and windows, over ``stg_events_3`` instead of ``stg_events_0``, with
``f7_sum_2`` instead of ``f0_sum_2``. Parsing and resolving each of them costs
the same; the outcome differs only by those names. So a model's *shape* is its
token stream with every plain name (a ``VAR`` or quoted identifier not followed
by ``(``) replaced by the number of its first occurrence, plus its inputs'
columns written the same way. The first model of a shape is parsed and
analysed; another model of the same shape takes that outcome with its own
names put back, when the renaming is provably harmless:

- the two token streams are equal but for a one-to-one renaming of names (the
  numbering by first occurrence gives that), and the inputs' columns agree
  under the same renaming (part of the shape);
- every name that differs is, in the first model's parse tree, only ever an
  identifier (a column, table, alias or CTE name: not a function, not a
  keyword-like word such as a date part) and has a digit in it on both sides:
  sqlglot's parser matches some plain words by their text (``preceding``,
  ``day``), never a word with a digit that is not followed by ``(``;
- the first model was resolved by the fast resolver (:mod:`.resolve`), whose
  outcome depends on names only through their equality.

Function names, keywords, strings and numbers are part of the shape as they
are. Fingerprints are always computed from the model's own tokens.
"""
from __future__ import annotations

import hashlib
from typing import Any

_DIGITS = frozenset("0123456789")


def _has_digit(text: str) -> bool:
    return not _DIGITS.isdisjoint(text)


class _Tables:
    """Token-type constants and names, looked up once."""

    def __init__(self) -> None:
        from sqlglot.tokens import TokenType

        self.VAR = TokenType.VAR
        self.IDENTIFIER = TokenType.IDENTIFIER
        self.ALIAS = TokenType.ALIAS
        self.L_PAREN = TokenType.L_PAREN
        self.literal = frozenset({TokenType.STRING, TokenType.NUMBER, TokenType.NATIONAL_STRING,
                                  TokenType.BIT_STRING, TokenType.HEX_STRING, TokenType.BYTE_STRING,
                                  TokenType.RAW_STRING})
        self.names = {t: t.name for t in TokenType}


_T: _Tables | None = None


def digest(tokens: list[Any]) -> tuple[str, tuple, list[str], dict[str, int]]:
    """(fingerprint, shape tokens, name texts by number, number by name text) in one pass.

    The fingerprint is exactly :func:`.fingerprint.fingerprint_tokens` (same parts, same hash).
    """
    from featurewarehouse.registry.fingerprint import FINGERPRINT_LENGTH

    global _T
    if _T is None:
        _T = _Tables()
    VAR, IDENTIFIER, ALIAS, L_PAREN, literal, names = _T.VAR, _T.IDENTIFIER, _T.ALIAS, _T.L_PAREN, _T.literal, _T.names
    fp: list[str] = []
    shape: list[Any] = []
    texts: list[str] = []
    number: dict[str, int] = {}
    n = len(tokens)
    for i, tok in enumerate(tokens):
        tt = tok.token_type
        text = tok.text
        if tt == VAR or tt == IDENTIFIER:
            fp.append(("v:" + text.lower()) if tt == VAR else ("q:" + text))
            if i + 1 < n and tokens[i + 1].token_type == L_PAREN:
                shape.append(tt)
                shape.append(text)  # a function name: part of the shape as it is
            else:
                k = number.get(text)
                if k is None:
                    k = number[text] = len(texts)
                    texts.append(text)
                shape.append(tt)
                shape.append(k)
            continue
        shape.append(tt)
        shape.append(text)
        if tt == ALIAS:
            continue
        fp.append(f"{names[tt]}:{text}" if tt in literal else names[tt])
    h = hashlib.sha256()
    if fp:
        h.update(("\x00".join(fp) + "\x00").encode())
    return h.hexdigest()[:FINGERPRINT_LENGTH], tuple(shape), texts, number


def schema_shape(schema: dict[str, dict[str, str]], number: dict[str, int]) -> tuple:
    """The inputs' column names with the model's names numbered (types are not used by the resolver)."""
    def enc(s: str) -> Any:
        k = number.get(s)
        return ("\x01", k) if k is not None else ("\x02", s)

    return tuple(sorted((enc(name.strip('"')), tuple(enc(c) for c in cols)) for name, cols in schema.items()))


class _Template:
    def __init__(self, texts: list[str], renamable: frozenset[int], outputs: tuple, lineage: list):
        self.texts = texts
        self.renamable = renamable
        self.outputs = outputs  # each: int (a name's number) or str (as is)
        self.lineage = lineage  # [(output, [(table, column), ...]), ...] encoded the same way


class ShapeCache:
    """Analysis outcomes by shape, for one build."""

    def __init__(self) -> None:
        self._by_key: dict[tuple, list[_Template]] = {}
        self.hits = 0

    def lookup(self, key: tuple, texts: list[str]) -> tuple[tuple[str, ...], dict[str, list[str]]] | None:
        for tpl in self._by_key.get(key, ()):
            if len(tpl.texts) != len(texts):
                continue
            ok = True
            for k, (mine, theirs) in enumerate(zip(texts, tpl.texts)):
                if mine != theirs and not (k in tpl.renamable and _has_digit(mine)):
                    ok = False
                    break
            if not ok:
                continue

            def dec(x: Any) -> str:
                return texts[x] if isinstance(x, int) else x

            outputs = tuple(dec(x) for x in tpl.outputs)
            lineage = {dec(col): sorted(f"{dec(t)}.{dec(c)}" for t, c in leaves) for col, leaves in tpl.lineage}
            self.hits += 1
            return outputs, lineage
        return None

    def add(self, key: tuple, texts: list[str], number: dict[str, int], tree: Any,
            outputs: tuple[str, ...], lineage: dict[str, list[str]]) -> None:
        """Remember a fast-resolved model's outcome; silently skipped when it cannot be encoded exactly."""
        from sqlglot import exp

        identifiers: set[str] = set()
        others: set[str] = set()
        for node in tree.walk():
            if isinstance(node, exp.Identifier):
                identifiers.add(node.this)
            elif isinstance(node, exp.Var):
                others.add(node.this)
            elif isinstance(node, exp.Anonymous) and isinstance(node.this, str):
                others.add(node.this)
        renamable = frozenset(k for k, t in enumerate(texts)
                              if t in identifiers and t not in others and _has_digit(t))

        def enc(s: str) -> Any:
            k = number.get(s)
            return k if k is not None else s

        enc_lineage = []
        for col, leaves in lineage.items():
            pairs = []
            for leaf in leaves:
                splits = [(leaf[:i], leaf[i + 1:]) for i, ch in enumerate(leaf) if ch == "." and leaf[:i] in number]
                if len(splits) != 1:
                    return  # the table part of a leaf is not one of the model's names: not encodable
                t, c = splits[0]
                pairs.append((enc(t), enc(c)))
            enc_lineage.append((enc(col), pairs))
        self._by_key.setdefault(key, []).append(
            _Template(list(texts), renamable, tuple(enc(o) for o in outputs), enc_lineage))
