"""Model evaluation statistics, as DESIGN.md defines them.

- AUC via ranks (Mann-Whitney U), ties given their average rank.
- KS = max |cum % events - cum % non-events| over score-ordered rows, evaluated only
  between distinct scores (tied scores move together).
- Gini = 2 * AUC - 1.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _validate(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("y_true and y_score must be 1-d arrays of the same length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if np.isnan(s).any():
        raise ValueError("y_score holds NaN")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError("AUC/KS need both classes present")
    return y.astype(bool), s


def auc(y_true, y_score) -> float:
    y, s = _validate(y_true, y_score)
    ranks = rankdata(s)  # average ranks for ties
    n_pos = y.sum()
    n_neg = y.size - n_pos
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def ks(y_true, y_score) -> float:
    y, s = _validate(y_true, y_score)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    cum_pos = np.cumsum(y_sorted) / y_sorted.sum()
    cum_neg = np.cumsum(~y_sorted) / (~y_sorted).sum()
    # only compare at the last row of each group of tied scores
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    return float(np.max(np.abs(cum_pos - cum_neg)[last_of_tie]))


def gini(y_true, y_score) -> float:
    return 2.0 * auc(y_true, y_score) - 1.0
