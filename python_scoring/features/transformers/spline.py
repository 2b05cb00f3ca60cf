"""Numbers for a linear model that may bend: cubic B-spline bases (registry `encoding:
spline`, one of the candidates of `search: auto`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import SplineTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted


class SplineNumbers(TransformerMixin, BaseEstimator):
    """Numbers for a linear model that may bend (registry `encoding: spline`).

    Each column with at least `min_values` distinct values becomes a cubic B-spline basis
    (scikit-learn SplineTransformer, `n_knots` knots at quantiles of the training values,
    constant beyond them), so the model can learn e.g. that churn falls fast over the first
    months of tenure and slowly after; other columns stay as they are. A null is the
    training median plus a missing indicator (`<col>_missing`, for columns with nulls in
    training). Everything is then standardised. A basis column is named after the range
    of values where it is not zero, `<col>_[<from>..<to>]` (e.g. `tenure_[0..25]`: a reason
    code of that name says that a tenure in that range pushes the score up; its value is
    the customer's tenure).
    """

    def __init__(self, n_knots=5, degree=3, min_values=10):
        self.n_knots = n_knots
        self.degree = degree
        self.min_values = min_values

    def fit(self, X, y=None):
        frame = pd.DataFrame(X) if not isinstance(X, pd.DataFrame) else X
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.medians_, self.splines_, self.missing_ = {}, {}, []
        for col in frame.columns:
            values = frame[col].astype("float64")
            median = values.median()
            self.medians_[col] = 0.0 if pd.isna(median) else float(median)
            if values.isna().any():
                self.missing_.append(col)
            present = values.dropna()
            if present.nunique() < self.min_values:
                continue
            knots = np.unique(np.quantile(present, np.linspace(0, 1, self.n_knots)))
            if knots.size < 3:
                continue
            spline = SplineTransformer(
                knots=knots.reshape(-1, 1),
                degree=self.degree,
                extrapolation="constant",
                include_bias=False,
            )
            self.splines_[col] = spline.fit(values.fillna(self.medians_[col]).to_frame())
        self.basis_names_ = {
            col: self._ranges(col, frame[col].min(), frame[col].max()) for col in self.splines_
        }
        basis = self._basis(frame)
        self.names_ = list(basis.columns)
        self.scaler_ = StandardScaler().fit(basis.to_numpy())
        return self

    def _ranges(self, col: str, low: float, high: float) -> list[str]:
        """`<col>_[<from>..<to>]`: each basis function's support within the training
        range [low, high] (`<col>_sp<i>` should two coincide)."""
        knots = self.splines_[col].bsplines_[0].t
        n = self.splines_[col].n_features_out_
        names = [
            f"{col}_[{_short(max(knots[i], low))}..{_short(min(knots[i + self.degree + 1], high))}]"
            for i in range(n)
        ]
        if len(set(names)) < len(names):
            names = [f"{col}_sp{i}" for i in range(n)]
        return names

    def _basis(self, frame: pd.DataFrame) -> pd.DataFrame:
        parts: dict[str, Any] = {}
        for col in self.feature_names_in_:
            values = frame[col].astype("float64")
            filled = values.fillna(self.medians_[col])
            if col in self.splines_:
                basis = self.splines_[col].transform(filled.to_frame())
                for i, name in enumerate(self.basis_names_[col]):
                    parts[name] = basis[:, i]
            else:
                parts[col] = filled.to_numpy()
            if col in self.missing_:
                parts[f"{col}_missing"] = values.isna().to_numpy(dtype="float64")
        return pd.DataFrame(parts, index=frame.index)

    def transform(self, X):
        check_is_fitted(self, "scaler_")
        frame = (
            X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.feature_names_in_)
        )
        scaled = self.scaler_.transform(self._basis(frame).to_numpy())
        return pd.DataFrame(scaled, index=frame.index, columns=self.names_)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "scaler_")
        return np.asarray(self.names_, dtype=object)


def _short(value: float) -> str:
    """3 significant digits, never in exponent form: 0.792, 40.7, 2230."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
