"""The blend `search: auto` may choose: a tree model's and a linear model's probabilities
averaged, as one picklable estimator (features/pipeline.py `build_blend` builds the
pipeline around it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

# the blend's tree member reads its own copy of the columns, under these names
BLEND_TREE_PREFIX = "tree__"


# ... with a missing value as this number, so that every column the blend reads is finite
# (reason codes multiply each by the linear member's coefficient, 0 for these); the blend
# hands the tree member a missing value again
BLEND_MISSING = float(np.finfo(np.float64).min)


def tree_names(transformer, input_features):
    return np.asarray([f"{BLEND_TREE_PREFIX}{name}" for name in input_features], dtype=object)


def mark_missing(X):
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X, dtype="float64"))
    return X.astype("float64").fillna(BLEND_MISSING)


def _missing(tree_columns: pd.DataFrame) -> pd.DataFrame:
    return tree_columns.mask(tree_columns == BLEND_MISSING)


class ProbabilityBlend(LogisticRegression):
    """The average of a tree model's and a linear model's probabilities (`search: auto`
    picks it when it beats both by cross-validated AUC), one picklable estimator.

    It reads the columns of a blend pipeline's preprocessing step (`build_blend`): those
    named `tree__...` are the tree member's input (numbers as they are, text as ordinal
    codes, a missing value as BLEND_MISSING), the others the linear member's
    (standardised, one-hot, WOE or spline). Its
    score is `tree_weight` x the tree's probability + the rest x the linear model's.

    It is a LogisticRegression only for reason codes (features/reasons.py): `coef_` and
    `intercept_` are the linear member's (0 on the tree member's columns), so a blend's
    reasons are its linear member's (coefficient x value), not an attribution of the
    blended score. Every method that predicts is the blend's own.
    """

    def __init__(self, tree=None, linear=None, tree_weight=0.5):
        self.tree = tree
        self.linear = linear
        self.tree_weight = tree_weight

    def fit(self, X, y, sample_weight=None):
        if not isinstance(X, pd.DataFrame):
            raise TypeError("ProbabilityBlend reads named columns: fit it on a DataFrame")
        tree = np.asarray([str(c).startswith(BLEND_TREE_PREFIX) for c in X.columns])
        if tree.all() or not tree.any():
            raise ValueError(
                f"ProbabilityBlend needs columns named {BLEND_TREE_PREFIX}... (tree member) "
                "and others (linear member)"
            )
        self.tree_columns_ = tree
        self.tree_ = clone(self.tree).fit(_missing(X.loc[:, tree]), y, sample_weight=sample_weight)
        self.linear_ = clone(self.linear).fit(X.loc[:, ~tree], y, sample_weight=sample_weight)
        self.classes_ = self.linear_.classes_
        self.coef_ = np.zeros((1, X.shape[1]))
        self.coef_[0, ~tree] = np.ravel(self.linear_.coef_)
        self.intercept_ = np.asarray(self.linear_.intercept_, dtype="float64")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "tree_")
        frame = (
            X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.feature_names_in_)
        )
        tree = self.tree_columns_
        return self.tree_weight * self.tree_.predict_proba(_missing(frame.loc[:, tree])) + (
            1 - self.tree_weight
        ) * self.linear_.predict_proba(frame.loc[:, ~tree])

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super(LogisticRegression, self).__sklearn_tags__()  # not LR's: no solver
        tags.input_tags.allow_nan = True  # the tree member's columns hold nulls
        return tags

    def decision_function(self, X):
        p = np.clip(self.predict_proba(X)[:, 1], 1e-15, 1 - 1e-15)
        return np.log(p / (1 - p))

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]
