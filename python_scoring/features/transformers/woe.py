"""WoeEncoder: replace each value by the weight of evidence of its bin."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from python_scoring.features import stats
from python_scoring.features.transformers._common import (
    as_frame,
    check_columns,
    fit_sample,
)


class WoeEncoder(TransformerMixin, BaseEstimator):
    """Weight-of-evidence encoding of every column (the scorecard's input).

    Numeric columns are cut into ``bins`` equal-frequency bins, text (and boolean) columns
    have one bin per value; nulls form a bin of their own (``python_scoring.features.stats``,
    ``woe_table``). A value whose bin held no training row -- an unseen category, or a
    null where training had none -- gets WOE 0, i.e. no evidence either way.

    Attributes: ``cuts_`` (column -> cut points, numeric columns only), ``woe_`` (column ->
    {bin or category: woe}; the key None is the null bin).
    """

    def __init__(self, bins=10, max_rows=None, random_state=0):
        self.bins = bins
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, y):
        frame, sample, sample_label = fit_sample(X, y, self.max_rows, self.random_state)
        self.cuts_, self.woe_ = {}, {}
        for col in frame.columns:
            values = sample[col]
            numeric = stats.is_numeric(values)
            cuts = stats.equal_frequency_cuts(values, self.bins) if numeric else None
            table = stats.woe_table(values, sample_label, bins=self.bins, cuts=cuts)
            if numeric:
                self.cuts_[col] = cuts
                keys = [None if b == -1 else int(b) for b in table["bin"]]
            else:
                keys = list(table["bin"])
            self.woe_[col] = dict(zip(keys, table["woe"].astype(float), strict=True))
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "woe_")
        frame = as_frame(X, list(self.feature_names_in_))
        columns = list(self.feature_names_in_)
        check_columns(frame, columns, type(self).__name__)
        out = {}
        for col in columns:
            woe = self.woe_[col]
            null_woe = woe.get(None, 0.0)
            if col in self.cuts_:
                codes = stats.assign_bins(frame[col], self.cuts_[col])
                lookup = np.array([woe.get(b, 0.0) for b in range(self.cuts_[col].size + 1)])
                out[col] = np.where(codes < 0, null_woe, lookup[np.maximum(codes, 0)])
            else:
                values = frame[col]
                mapped = values.map(lambda v, w=woe: w.get(v, 0.0))
                out[col] = np.where(values.isna(), null_woe, mapped.astype("float64"))
        return pd.DataFrame(out, index=frame.index, columns=columns)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "woe_")
        return np.asarray(self.feature_names_in_, dtype=object)
