"""PairwiseFeatures: derived a+b, a-b, a*b, a/b kept under IV and correlation limits."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from python_scoring.features import stats
from python_scoring.features.transformers._common import (
    as_frame,
    check_columns,
    fit_sample,
    is_arithmetic,
)

_SYMBOLS = {"add": "plus", "sub": "minus", "mul": "times", "div": "per"}


def _apply(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One derivation, float64; division by zero (and any overflow) gives a null."""
    with np.errstate(all="ignore"):
        if op == "add":
            out = a + b
        elif op == "sub":
            out = a - b
        elif op == "mul":
            out = a * b
        else:
            out = np.divide(a, b, out=np.full_like(a, np.nan), where=b != 0)
    out[~np.isfinite(out)] = np.nan
    return out


class _Standardised:
    """A column prepared for Pearson correlations over the rows where both sides are
    non-null; columns without nulls take a fast path (one dot product)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.present = ~np.isnan(values)
        self.complete = bool(self.present.all())
        if self.complete:
            std = values.std()
            self.z = (values - values.mean()) / std if std > 0 else None

    def corr(self, other: _Standardised) -> float:
        if self.complete and other.complete:
            if self.z is None or other.z is None:
                return 0.0  # a constant has no linear relation to anything
            return float(np.dot(self.z, other.z) / self.z.size)
        both = self.present & other.present
        if both.sum() < 2:
            return 0.0
        a, b = self.values[both], other.values[both]
        sa, sb = a.std(), b.std()
        if sa == 0 or sb == 0:
            return 0.0
        return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


class PairwiseFeatures(TransformerMixin, BaseEstimator):
    """Derive pairwise features among the ``top_k`` numeric inputs with the highest IV.

    For each pair (a, b), a ranked above b by IV, and each operation in ``operations``
    (add: a+b, sub: a-b, mul: a*b, div: a/b with a null where b = 0), the derived column
    is a candidate. Candidates are visited by descending IV; one is kept when its IV is at
    least ``iv_limit`` and its absolute Pearson correlation (rows where both are non-null)
    with every numeric input feature and every derived feature already kept is below
    ``r_limit``. Kept columns are appended to the input, named ``a__plus__b``,
    ``a__minus__b``, ``a__times__b``, ``a__per__b``.

    Statistics are computed on a label-stratified sample of at most ``max_rows`` rows.

    Attributes: ``base_iv_`` (IV of the numeric inputs), ``candidates_`` (DataFrame of
    every candidate with its IV, max |r| against the features kept before it, and whether
    it was kept), ``derived_`` (kept: list of dicts name/left/op/right/iv).
    """

    def __init__(
        self,
        top_k=5,
        operations=("add", "sub", "mul", "div"),
        iv_limit=0.02,
        r_limit=0.8,
        bins=10,
        max_rows=500_000,
        random_state=0,
    ):
        self.top_k = top_k
        self.operations = operations
        self.iv_limit = iv_limit
        self.r_limit = r_limit
        self.bins = bins
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, y):
        unknown = set(self.operations) - set(_SYMBOLS)
        if unknown:
            raise ValueError(f"unknown operation(s) {sorted(unknown)}; known: {list(_SYMBOLS)}")
        frame, sample, sample_label = fit_sample(X, y, self.max_rows, self.random_state)
        numeric = [c for c in frame.columns if is_arithmetic(frame[c])]
        values = {c: sample[c].to_numpy(dtype="float64", na_value=np.nan) for c in numeric}
        self.base_iv_ = pd.Series(
            {c: stats.iv(values[c], sample_label, bins=self.bins) for c in numeric},
            dtype="float64",
        ).sort_values(ascending=False, kind="stable")
        top = list(self.base_iv_.index[: self.top_k])

        candidates = []
        for a, b in itertools.combinations(top, 2):
            for op in self.operations:
                derived = _apply(op, values[a], values[b])
                candidates.append(
                    {
                        "name": f"{a}__{_SYMBOLS[op]}__{b}",
                        "left": a,
                        "op": op,
                        "right": b,
                        "iv": stats.iv(derived, sample_label, bins=self.bins),
                        "values": derived,
                    }
                )
        candidates.sort(key=lambda c: -c["iv"])

        kept_columns = [_Standardised(values[c]) for c in numeric]
        records = []
        for cand in candidates:
            max_r, kept = np.nan, False
            if cand["iv"] >= self.iv_limit:
                column = _Standardised(cand["values"])
                max_r = 0.0
                for other in kept_columns:
                    max_r = max(max_r, abs(column.corr(other)))
                    if max_r >= self.r_limit:
                        break
                kept = max_r < self.r_limit
                if kept:
                    kept_columns.append(column)
            records.append({k: v for k, v in cand.items() if k != "values"})
            records[-1].update(max_abs_r=max_r, kept=kept)
        self.candidates_ = pd.DataFrame(
            records, columns=["name", "left", "op", "right", "iv", "max_abs_r", "kept"]
        )
        self.derived_ = [
            {k: r[k] for k in ("name", "left", "op", "right", "iv")} for r in records if r["kept"]
        ]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "derived_")
        frame = as_frame(X, list(self.feature_names_in_))
        check_columns(frame, list(self.feature_names_in_), type(self).__name__)
        if not self.derived_:
            return frame
        derived = {
            d["name"]: _apply(
                d["op"],
                frame[d["left"]].to_numpy(dtype="float64", na_value=np.nan),
                frame[d["right"]].to_numpy(dtype="float64", na_value=np.nan),
            )
            for d in self.derived_
        }
        return pd.concat([frame, pd.DataFrame(derived, index=frame.index)], axis=1)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "derived_")
        return np.asarray(
            [*self.feature_names_in_, *(d["name"] for d in self.derived_)], dtype=object
        )
