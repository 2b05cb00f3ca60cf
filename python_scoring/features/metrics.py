"""Model evaluation statistics, as docs/architecture.md (Statistics) defines them.

- AUC via ranks (Mann-Whitney U), ties given their average rank.
- KS = max |cum % events - cum % non-events| over score-ordered rows, evaluated only
  between distinct scores (tied scores move together).
- Gini = 2 * AUC - 1.
- `curves`: the points of the roc, gains, ks, calibration and score-distribution curves
  (ml.model_curves).
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


def _ntile_bounds(n: int, groups: int) -> np.ndarray:
    """Start offsets of `groups` equal groups of n rows plus n (the first groups one row
    larger when it does not divide, like SQL ntile)."""
    return np.cumsum([0] + [n // groups + (i < n % groups) for i in range(groups)])


def decile_table(y_true, y_score, groups: int = 10) -> list[dict[str, float]]:
    """Rows sorted by score (highest first) cut into `groups` groups of equal size (the
    first groups one row larger when it does not divide, like SQL ntile); per group:
    rows, positives, positive rate, score range, lift (rate / overall rate), cumulative
    share of all positives captured and cumulative lift."""
    y, s = _order(y_true, y_score)
    overall = y.mean()
    bounds = _ntile_bounds(y.size, groups)
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


CURVE_POINTS = 100  # roc, gains and ks at q = 0, 1/100, ..., 1 of the rows targeted
SCORE_BINS = 20  # score_positive / score_negative: equal-width bins on [0, 1]


def curves(y_true, y_score) -> list[tuple[str, int, float, float]]:
    """The points (curve, point, x, y) of a split's curves, for drawing without its rows.

    Rows sorted by score, highest first (ties by row order, as `_order`); for point
    i = 0 .. 100 the top k = round(i/100 * n) rows are targeted (halves round up), with
    tp(k) positives and fp(k) negatives among them, P and N in the split:

    - ``roc``: x = fp(k)/N (false positive rate), y = tp(k)/P (true positive rate).
    - ``gains``: x = k/n (share of rows targeted), y = tp(k)/P (share of positives
      captured).
    - ``ks``: x = k/n, y = tp(k)/P - fp(k)/N (the gap whose maximum is about the KS;
      `ks` itself only compares between distinct scores).
    - ``calibration``: point d = 1 .. 10 per score decile as `decile_table` cuts them
      (1 = highest scores; an empty decile, under 10 rows, is left out): x = the mean
      score, y = the observed positive rate.
    - ``score_positive`` / ``score_negative``: point b = 0 .. 19 per equal-width score bin
      [b/20, (b+1)/20) (a score of 1 in the last bin): x = the bin's upper edge, y = the
      share of the class's rows in the bin (each curve sums to 1).

    Both classes must be present (like `auc`): every curve but calibration divides by P
    or N.
    """
    y, s = _order(y_true, y_score)
    n = y.size
    n_pos = int(y.sum())
    n_neg = n - n_pos
    # positives among the first k rows, for k = 0 .. n
    cum_pos = np.concatenate(([0], np.cumsum(y, dtype=np.int64)))
    points = np.arange(CURVE_POINTS + 1)
    k = (points * n + CURVE_POINTS // 2) // CURVE_POINTS  # integer round, halves up
    tpr = cum_pos[k] / n_pos
    fpr = (k - cum_pos[k]) / n_neg
    share = k / n
    out: list[tuple[str, int, float, float]] = []
    for name, xs, ys in (("roc", fpr, tpr), ("gains", share, tpr), ("ks", share, tpr - fpr)):
        out += [(name, int(p), float(a), float(b)) for p, a, b in zip(points, xs, ys, strict=True)]

    bounds = _ntile_bounds(n, 10)
    cum_score = np.concatenate(([0.0], np.cumsum(s)))
    sizes = np.diff(bounds)
    filled = sizes > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.diff(cum_score[bounds]) / sizes
        rate = np.diff(cum_pos[bounds]) / sizes
    for d in np.flatnonzero(filled):
        out.append(("calibration", int(d) + 1, float(mean_score[d]), float(rate[d])))

    bins = np.clip(np.floor(s * SCORE_BINS), 0, SCORE_BINS - 1).astype(np.int64)
    edges = np.arange(1, SCORE_BINS + 1) / SCORE_BINS
    for name, members, total in (("score_positive", y, n_pos), ("score_negative", ~y, n_neg)):
        shares = np.bincount(bins[members], minlength=SCORE_BINS) / total
        out += [(name, b, float(edges[b]), float(shares[b])) for b in range(SCORE_BINS)]
    return out
