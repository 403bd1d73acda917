"""Feature references: ``view:feature`` and ``view:*``, with "did you mean"."""
from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from typing import Iterable

from featurewarehouse.errors import ConfigError


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
        view, sep, feature = text.strip().partition(":")
        if not sep or not view or not feature or ":" in feature:
            raise ConfigError(
                f"malformed feature reference {text!r}",
                hint="write it as feature_view:feature, or feature_view:* for all of a view's features",
            )
        return cls(view, feature)


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
