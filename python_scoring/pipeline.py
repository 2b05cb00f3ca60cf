"""The scikit-learn pipeline a registry model trains: preprocessing + estimator.

The fitted preprocessing travels inside the artifact, so batch scoring (and any later
online or Spark scoring) transforms a row exactly as training did.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from python_scoring.errors import ScorehouseError
from python_scoring.registry import ModelSpec

LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "verbose": -1,
    "n_jobs": 2,
}


def split_feature_types(frame: pd.DataFrame, candidates: list[str]) -> tuple[list[str], list[str]]:
    """Numeric (incl. boolean) and categorical (text) feature columns; dates are not model
    inputs (calendar positions, not behaviour). An object column that holds anything but
    text is refused rather than silently encoded as categories."""
    numeric, categorical = [], []
    for col in candidates:
        series = frame[col]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(col)
        elif isinstance(dtype, pd.CategoricalDtype) or (
            pd.api.types.is_string_dtype(dtype) and series.dropna().map(type).isin([str]).all()
        ):
            categorical.append(col)
        elif (
            pd.api.types.is_object_dtype(dtype)
            and not series.dropna().map(lambda v: hasattr(v, "isoformat")).all()
        ):
            raise ScorehouseError(
                f"feature column '{col}' holds {series.dropna().map(type).iloc[0].__name__} "
                "values, neither numbers nor text: cast it in the dbt model"
            )
    return numeric, categorical


def build_pipeline(spec: ModelSpec, numeric: list[str], categorical: list[str]) -> Pipeline:
    # Unseen and missing categories become NaN, which LightGBM routes as missing values.
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )
    prep = ColumnTransformer(
        [("numeric", "passthrough", numeric), ("categorical", encoder, categorical)],
        verbose_feature_names_out=False,
    )
    prep.set_output(transform="pandas")
    params = {**LIGHTGBM_DEFAULTS, "random_state": spec.seed, **spec.params}
    return Pipeline([("prep", prep), ("model", LGBMClassifier(**params))])


def feature_names(pipeline: Pipeline) -> list[str]:
    """Names of the columns the estimator sees, in order."""
    return list(pipeline.named_steps["prep"].get_feature_names_out())
