"""Feature references: ``view:feature`` and ``view:*``, their expansion, and "did you mean".

The ref rules (shared with ``fw_parse_refs`` / ``fw_expand_refs`` in
``macros/fw_contract.sql``, proven equal by ``tests/contract_cases/refs.json``):

- a ref is text ``view:feature`` or ``view:*``; surrounding whitespace is
  ignored, each side is a non-empty name with no whitespace and no ``:``;
- refs expand in the order given; ``view:*`` is every feature of the view in
  declared order, skipping features already selected;
- naming one feature explicitly when it is already selected (listed twice, or
  after a ``view:*`` that covered it) is an error; so is ``view:*`` of a view
  with no features, an unknown view and an unknown feature.
"""
from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from featurewarehouse.errors import ConfigError


class RefError(ConfigError):
    """A feature-ref list that cannot be expanded; ``code`` says which rule it breaks
    (malformed, unknown_view, unknown_feature, twice, no_features)."""

    def __init__(self, code: str, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message, where=where, hint=hint)
        self.code = code


@dataclass(frozen=True, order=True)
class FeatureRef:
    """A parsed reference. ``feature`` is ``"*"`` for all of a view's features.

    >>> FeatureRef.parse("customer_spend_features:txn_count_7d")
    FeatureRef(view='customer_spend_features', feature='txn_count_7d')
    >>> str(FeatureRef.parse("customer_profile_features:*"))
    'customer_profile_features:*'
    """

    view: str
    feature: str

    @property
    def is_wildcard(self) -> bool:
        return self.feature == "*"

    def __str__(self) -> str:
        return f"{self.view}:{self.feature}"

    @classmethod
    def parse(cls, text: str) -> "FeatureRef":
        view, sep, feature = text.strip().partition(":") if isinstance(text, str) else ("", "", "")
        if not sep or not view or not feature or ":" in feature or _has_space(view) or _has_space(feature):
            raise RefError(
                "malformed",
                f"malformed feature reference {text!r}",
                hint="write it as feature_view:feature, or feature_view:* for all of a view's features",
            )
        return cls(view, feature)


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)


def expand_refs(
    refs: Iterable[str | FeatureRef], features_of: Mapping[str, Sequence[str]]
) -> list[FeatureRef]:
    """Expand refs to single features by the ref rules (module doc), in order.

    ``features_of`` maps each feature view to its features in declared order.
    Raises :class:`RefError` (its ``code`` names the broken rule).

    >>> [str(r) for r in expand_refs(["v:b", "v:*"], {"v": ["a", "b", "c"]})]
    ['v:b', 'v:a', 'v:c']
    """
    out: list[FeatureRef] = []
    seen: set[FeatureRef] = set()
    for raw in refs:
        ref = raw if isinstance(raw, FeatureRef) else FeatureRef.parse(raw)
        names = features_of.get(ref.view)
        if names is None:
            raise RefError(
                "unknown_view",
                f"unknown feature view {ref.view!r}." + did_you_mean(ref.view, list(features_of)),
                hint="run `fwctl features list` to see the feature views",
            )
        if ref.is_wildcard:
            if not names:
                raise RefError(
                    "no_features", f"feature view {ref.view!r} declares no features",
                    hint="mark its feature columns with config: {meta: {fw: {feature: true}}} in its YAML",
                )
            wanted = [FeatureRef(ref.view, n) for n in names]
        else:
            if ref.feature not in names:
                raise RefError(
                    "unknown_feature",
                    f"feature view {ref.view!r} has no feature {ref.feature!r}." + did_you_mean(ref.feature, names),
                    hint=f"run `fwctl features show {ref.view}` to list its features",
                )
            if ref in seen:
                raise RefError("twice", f"feature {str(ref)!r} is requested twice", hint="list each feature once")
            wanted = [ref]
        for r in wanted:
            if r not in seen:
                seen.add(r)
                out.append(r)
    return out


# difflib's ratio costs up to len(a) * len(b): past this length a name is no typo of a real one,
# and a client-chosen name must not buy quadratic server time (issue 20).
MAX_SUGGESTED_NAME = 256
MAX_SUGGESTION_CANDIDATES = 1000
_CUTOFF = 0.6


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A " did you mean ...?" suffix, or "" when nothing is close.

    Only names up to ``MAX_SUGGESTED_NAME`` characters get suggestions, compared with
    at most ``MAX_SUGGESTION_CANDIDATES`` candidates of a length that could reach the
    cutoff (ratio = 2 * matches / (len(a) + len(b)) needs the shorter at least 3/7 of
    the longer), so the cost is bounded whatever the name.

    >>> did_you_mean("txn_cnt_7d", ["txn_count_7d", "amount_sum_7d"])
    " did you mean 'txn_count_7d'?"
    >>> did_you_mean("x" * 10_000, ["x" * 10_000])
    ''
    """
    size = len(name)
    if not size or size > MAX_SUGGESTED_NAME:
        return ""
    fits = (c for c in candidates if 3 * max(size, len(c)) <= 7 * min(size, len(c)))
    pool = list(itertools.islice(fits, MAX_SUGGESTION_CANDIDATES))
    matches = difflib.get_close_matches(name, pool, n=n, cutoff=_CUTOFF)
    if not matches:
        return ""
    return " did you mean " + " or ".join(repr(m) for m in matches) + "?"
