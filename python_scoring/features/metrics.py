"""Model evaluation statistics, as docs/architecture.md (Statistics) defines them.

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


def _order(y, score) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores sorted by score, highest first (stable for ties)."""
    y, s = _validate(y, score)
    order = np.argsort(-s, kind="mergesort")
    return y[order], s[order]


def decile_table(y_true, y_score, groups: int = 10) -> list[dict[str, float]]:
    """Rows sorted by score (highest first) cut into `groups` groups of equal size (the
    first groups one row larger when it does not divide, like SQL ntile); per group:
    rows, positives, positive rate, score range, lift (rate / overall rate), cumulative
    share of all positives captured and cumulative lift."""
    y, s = _order(y_true, y_score)
    overall = y.mean()
    bounds = np.cumsum([0] + [len(y) // groups + (i < len(y) % groups) for i in range(groups)])
    rows, captured = [], 0
    for g in range(groups):
        part_y, part_s = y[bounds[g] : bounds[g + 1]], s[bounds[g] : bounds[g + 1]]
        captured += int(part_y.sum())
        seen = bounds[g + 1]
        rows.append(
            {
                "decile": g + 1,
                "rows": int(part_y.size),
                "positives": int(part_y.sum()),
                "positive_rate": float(part_y.mean()) if part_y.size else float("nan"),
                "min_score": float(part_s.min()) if part_s.size else float("nan"),
                "max_score": float(part_s.max()) if part_s.size else float("nan"),
                "lift": float(part_y.mean() / overall) if part_y.size else float("nan"),
                "cumulative_capture": captured / float(y.sum()),
                "cumulative_lift": float((captured / seen) / overall) if seen else float("nan"),
            }
        )
    return rows


def at_top(y_true, y_score, share: float = 0.1) -> dict[str, float]:
    """Precision, recall and lift when the top `share` of rows by score is targeted
    (ceil(share * n) rows, ties broken by row order)."""
    y, _ = _order(y_true, y_score)
    k = int(np.ceil(share * y.size))
    hits = int(y[:k].sum())
    return {
        "precision": hits / k,
        "recall": hits / float(y.sum()),
        "lift": (hits / k) / float(y.mean()),
    }


def at_threshold(y_true, y_score, threshold: float) -> dict[str, float]:
    """Confusion matrix, precision and recall when rows with score >= threshold are
    predicted positive (precision is 0 when nothing is predicted positive)."""
    y, s = _validate(y_true, y_score)
    predicted = s >= threshold
    tp = int((predicted & y).sum())
    fp = int((predicted & ~y).sum())
    fn = int((~predicted & y).sum())
    tn = int((~predicted & ~y).sum())
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn),
    }
