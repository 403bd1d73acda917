"""Feature references: ``view:feature`` and ``view:*``, with "did you mean"."""
from __future__ import annotations

import difflib
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


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A " did you mean ...?" suffix, or "" when nothing is close.

    >>> did_you_mean("txn_cnt_7d", ["txn_count_7d", "amount_sum_7d"])
    " did you mean 'txn_count_7d'?"
    """
    matches = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)
    if not matches:
        return ""
    return " did you mean " + " or ".join(repr(m) for m in matches) + "?"
