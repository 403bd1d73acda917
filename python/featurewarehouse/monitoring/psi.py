"""The Population Stability Index between two binned distributions.

``PSI = sum_i (c_i - b_i) * ln(c_i / b_i)`` where ``b_i`` and ``c_i`` are the
shares of the baseline's and the current window's non-null values in bin ``i``.
Bins are fixed by the baseline: for a numeric feature, its deciles (duplicate
edges merged; a value equal to an edge falls in the bin above it); for a
categorical feature, its most frequent categories plus one "other" bucket.

An empty bin would make the logarithm infinite. As is usual in the credit-risk
literature (e.g. Yurdakul 2018, and the common implementations), a share of 0 is
replaced by :data:`EPSILON` (1e-4) before the sum, on either side, without
renormalizing; a bin empty on both sides then adds exactly 0.
"""
from __future__ import annotations

import math
from typing import Sequence

EPSILON = 1e-4
NUMERIC_BINS = 10  # deciles of the baseline
TOP_CATEGORIES = 20  # categories kept by name; the rest share the "other" bucket


def shares(counts: Sequence[float]) -> list[float] | None:
    """Each bin's share of the total; None when the total is 0 (nothing to compare)."""
    total = float(sum(counts))
    if total <= 0:
        return None
    return [c / total for c in counts]


def psi(baseline: Sequence[float], current: Sequence[float], epsilon: float = EPSILON) -> float | None:
    """PSI of two count vectors over the same bins; None when either side is empty.

    >>> round(psi([50, 50], [50, 50]), 6)
    0.0
    >>> round(psi([90, 10], [50, 50]), 4)
    0.8789
    """
    if len(baseline) != len(current):
        raise ValueError(f"bins differ: {len(baseline)} baseline, {len(current)} current")
    b, c = shares(baseline), shares(current)
    if b is None or c is None:
        return None
    total = 0.0
    for p, q in zip(b, c):
        p, q = max(p, epsilon), max(q, epsilon)
        total += (q - p) * math.log(q / p)
    return total


def quantile_points(bins: int = NUMERIC_BINS) -> list[float]:
    """The inner quantiles whose values are the bin edges: 0.1 .. 0.9 for deciles."""
    return [i / bins for i in range(1, bins)]
