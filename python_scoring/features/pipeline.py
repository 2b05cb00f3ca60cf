"""The pipeline a registry model trains: screening, derivation, preprocessing, estimator.

Everything fitted travels inside the artifact (one scikit-learn / imbalanced-learn
`Pipeline`), so batch scoring (and any later online or Spark scoring) transforms a row
exactly as training did:

    screen   InformationValueScreen   (iv_limit > 0)  drop features with IV < iv_limit
    derive   PairwiseFeatures         (pairwise)      a+b, a-b, a*b, a/b under iv/r limits
    prep     ColumnTransformer                        per algorithm, see `_preprocessing`
    smote    SMOTE                    (imbalance: smote; applied in fit only)
    model    EarlyStoppedLGBMClassifier (lightgbm without a number of trees in params)
             | LGBMClassifier | RandomForestClassifier | LogisticRegression

`search: auto` may instead choose `build_blend`'s pipeline: one preprocessing step that
feeds a tree model and a linear model each its own columns, and a ProbabilityBlend
averaging their probabilities.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from python_scoring.errors import ScorehouseError
from python_scoring.features.blend import ProbabilityBlend, mark_missing, tree_names
from python_scoring.features.boosting import EarlyStoppedLGBMClassifier
from python_scoring.features.transformers import (
    InformationValueScreen,
    PairwiseFeatures,
    SplineNumbers,
    WoeEncoder,
)
from python_scoring.registry import ModelSpec, tree_count_names

log = logging.getLogger(__name__)

# LightGBM with a number of trees in `params` (or its search space): these defaults under
# the user's params; without one, EARLY_STOPPED_PARAMS and EarlyStoppedLGBMClassifier's
# own defaults (features/boosting.py), which choose the number of trees
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "n_estimators": 300,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "verbose": -1,
        "n_jobs": 2,
    },
    "random_forest": {
        "n_estimators": 200,
        "min_samples_leaf": 50,
        "max_features": "sqrt",
        "max_samples": 0.5,
        "n_jobs": 2,
    },
    "logistic_regression": {"C": 1.0, "max_iter": 2000},
}
EARLY_STOPPED_PARAMS: dict[str, Any] = {"verbose": -1}  # threads: by rows, see boosting
ESTIMATORS = {
    "lightgbm": LGBMClassifier,
    "random_forest": RandomForestClassifier,
    "logistic_regression": LogisticRegression,
}
# numbers (booleans included) and text, chosen after screening and derivation
_NUMBERS = make_column_selector(dtype_include=["number", "bool"])
_TEXT = make_column_selector(dtype_include=["object", "string", "category"])


def _kind(series: pd.Series) -> str:
    """What a column holds, as training and scoring compare it: 'numeric' (numbers and
    booleans), 'text' (strings or categories), 'null' (nothing: fits either), 'date', or
    the name of what else it holds."""
    dtype = series.dtype
    if series.isna().all():
        return "null"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype):
        return "text"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("string", "categorical"):
        return "text"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
        return "numeric"
    if inferred in ("date", "datetime", "datetime64"):
        return "date"
    types = sorted({type(v).__name__ for v in series.dropna()})
    return f"mixed ({', '.join(types)})" if len(types) > 1 else types[0]


def split_feature_types(
    frame: pd.DataFrame, candidates: list[str], where: str = "the training set"
) -> tuple[list[str], list[str]]:
    """Numeric (incl. boolean) and categorical (text) feature columns; dates are not model
    inputs (calendar positions, not behaviour), nor are columns null on every row (they
    carry nothing: left out with a log line). An object column that holds anything but
    text is refused rather than silently encoded as categories."""
    numeric, categorical, empty = [], [], []
    for col in candidates:
        series = frame[col]
        kind = _kind(series)
        if kind == "null":
            empty.append(col)
        elif kind == "numeric" and pd.api.types.is_object_dtype(series.dtype):
            raise ScorehouseError(
                f"feature column '{col}' of {where} holds numbers as Python objects "
                f"({series.dropna().map(type).iloc[0].__name__}): cast it in the dbt model"
            )
        elif kind == "numeric":
            numeric.append(col)
        elif kind == "text":
            categorical.append(col)
        elif kind != "date":
            raise ScorehouseError(
                f"feature column '{col}' of {where} holds {kind} values, neither numbers nor "
                "text: cast it in the dbt model"
            )
    for col in empty:
        log.warning(
            "feature column '%s' is null on every row of %s: left out of the model", col, where
        )
    return numeric, categorical


def _ordinal() -> OrdinalEncoder:
    return OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )


def _onehot_text() -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False),
    )


def _prep_steps(spec: ModelSpec) -> list[tuple[str, Any, Any]]:
    """The preprocessing step's transformers for a model of `spec` (see _preprocessing)."""
    if spec.encoding == "woe":
        return [
            ("woe", WoeEncoder(bins=spec.bins), _NUMBERS),
            ("woe_text", WoeEncoder(bins=spec.bins), _TEXT),
        ]
    if spec.encoding == "spline":
        return [("numeric", SplineNumbers(), _NUMBERS), ("categorical", _onehot_text(), _TEXT)]
    if spec.algorithm == "logistic_regression" or spec.imbalance == "smote":
        numbers = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
        if spec.algorithm == "logistic_regression":
            numbers.append(StandardScaler())
        return [
            ("numeric", make_pipeline(*numbers), _NUMBERS),
            ("categorical", _onehot_text(), _TEXT),
        ]
    return [("numeric", "passthrough", _NUMBERS), ("categorical", _ordinal(), _TEXT)]


def _column_transformer(steps: list[tuple[str, Any, Any]]) -> ColumnTransformer:
    prep = ColumnTransformer(steps, verbose_feature_names_out=False)
    prep.set_output(transform="pandas")
    return prep


def _preprocessing(spec: ModelSpec) -> ColumnTransformer:
    """Trees take numbers as they are (missing values included) and text as ordinal codes
    whose unseen and missing categories become missing values. Linear models and SMOTE
    need complete numbers: median imputation plus a missing-indicator, scaling for the
    linear model, and one-hot text whose unseen categories encode as all zeros. The
    scorecard (encoding: woe) replaces every value by its bin's weight of evidence;
    encoding: spline bends the numbers (SplineNumbers) and one-hot encodes the text."""
    return _column_transformer(_prep_steps(spec))


def early_stopped(spec: ModelSpec) -> bool:
    """LightGBM whose params (and search space) leave the number of trees open: it is
    chosen by early stopping (EarlyStoppedLGBMClassifier)."""
    if spec.algorithm != "lightgbm":
        return False
    keys = set(spec.params)
    if spec.search is not None:
        keys |= {k.removeprefix("model__") for k in spec.search.space}
    return not keys & tree_count_names()


def estimator_class(spec: ModelSpec) -> type:
    return EarlyStoppedLGBMClassifier if early_stopped(spec) else ESTIMATORS[spec.algorithm]


def estimator_params(spec: ModelSpec) -> dict[str, Any]:
    defaults = EARLY_STOPPED_PARAMS if early_stopped(spec) else DEFAULT_PARAMS[spec.algorithm]
    params = {**defaults, "random_state": spec.seed}
    if spec.imbalance == "class_weight":
        params["class_weight"] = "balanced"
    return {**params, **spec.params}


def build_pipeline(spec: ModelSpec) -> Pipeline:
    steps = [*_shared_steps(spec), ("prep", _preprocessing(spec))]
    if spec.imbalance == "smote":
        from imblearn.over_sampling import SMOTE  # imported on demand: ~1.3 s at start-up

        steps.append(("smote", SMOTE(random_state=spec.seed)))
    steps.append(("model", _estimator(spec)))
    if spec.imbalance == "smote":
        # imbalanced-learn's Pipeline applies samplers in fit only
        from imblearn.pipeline import Pipeline as ImbPipeline

        return ImbPipeline(steps)
    return Pipeline(steps)


def _shared_steps(spec: ModelSpec) -> list[tuple[str, Any]]:
    """Screening and derivation, as the registry entry asks."""
    steps: list[tuple[str, Any]] = []
    if spec.iv_limit > 0:
        steps.append(("screen", InformationValueScreen(iv_limit=spec.iv_limit, bins=spec.bins)))
    if spec.pairwise is not None:
        derive = PairwiseFeatures(
            top_k=spec.pairwise.top_k,
            operations=spec.pairwise.operations,
            iv_limit=spec.iv_limit,
            r_limit=spec.r_limit,
            bins=spec.bins,
        )
        steps.append(("derive", derive))
    return steps


def _estimator(spec: ModelSpec) -> Any:
    try:
        return estimator_class(spec)(**estimator_params(spec))
    except TypeError as exc:
        raise ScorehouseError(f"registry model '{spec.name}': bad params: {exc}") from exc


def build_blend(tree: ModelSpec, linear: ModelSpec, tree_weight: float = 0.5) -> Pipeline:
    """A pipeline whose model is the ProbabilityBlend of the tree model of `tree` and the
    linear model of `linear` (two specs of one registry entry: the same screening and
    derivation, no SMOTE); its preprocessing step feeds each member its own columns."""
    tree_steps = [
        (
            "tree_numeric",
            FunctionTransformer(mark_missing, feature_names_out=tree_names),
            _NUMBERS,
        ),
        (
            "tree_categorical",
            make_pipeline(
                _ordinal(), FunctionTransformer(mark_missing, feature_names_out=tree_names)
            ),
            _TEXT,
        ),
    ]
    prep = _column_transformer([*_prep_steps(linear), *tree_steps])
    blend = ProbabilityBlend(_estimator(tree), _estimator(linear), tree_weight)
    return Pipeline([*_shared_steps(linear), ("prep", prep), ("model", blend)])


# the preprocessing step's transformers by the kind of column they were fitted on
_PREP_KINDS = {"numeric": "numeric", "woe": "numeric", "categorical": "text", "woe_text": "text"}


def trained_kinds(pipeline: Pipeline) -> dict[str, str]:
    """Column -> 'numeric' or 'text', as the fitted preprocessing step took it (derived
    columns included; columns the screening step dropped are not there)."""
    prep = pipeline.named_steps["prep"]
    return {
        col: _PREP_KINDS[name]
        for name, _, columns in prep.transformers_
        if name in _PREP_KINDS
        for col in columns
    }


def check_input_types(
    pipeline: Pipeline, frame: pd.DataFrame, where: str = "the scoring input"
) -> pd.DataFrame:
    """The frame, refused when a column holds text where the model was trained on numbers
    or the other way round. A column null on every row fits either (typed as trained);
    numbers held as Python objects (booleans with nulls) are made float, which the
    estimator takes."""
    for col, trained in trained_kinds(pipeline).items():
        if col not in frame.columns:
            continue
        series = frame[col]
        now = _kind(series)
        if now == "null" or now == trained:
            if trained == "numeric" and not pd.api.types.is_numeric_dtype(series.dtype):
                frame = frame.assign(**{col: series.astype("float64")})
            elif (
                now == "null" and trained == "text" and not isinstance(series.dtype, pd.StringDtype)
            ):
                frame = frame.assign(**{col: series.astype("str")})
            continue
        raise ScorehouseError(
            f"feature column '{col}' was {trained} in training and is {now} ({series.dtype}) "
            f"in {where}: cast it back to {trained} in the dbt model, or retrain the model"
        )
    return frame


def model_frames(
    pipeline: Pipeline, frame: pd.DataFrame, where: str = "the scoring input"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows before encoding (the frame the preprocessing step receives: the input's
    columns as the model reads them, with the derived ones; a reason shows its values) and
    as the estimator sees them: every fitted step but samplers and the model, after
    `check_input_types`."""
    frame = check_input_types(pipeline, frame, where)
    before = frame
    for name, step in pipeline.steps[:-1]:
        if name == "prep":
            before = frame
        if not hasattr(step, "fit_resample"):  # samplers apply in fit only
            frame = step.transform(frame)
    return before, frame


def model_input(
    pipeline: Pipeline, frame: pd.DataFrame, where: str = "the scoring input"
) -> pd.DataFrame:
    """The rows as the estimator sees them (model_frames)."""
    return model_frames(pipeline, frame, where)[1]


def feature_names(pipeline: Pipeline) -> list[str]:
    """Names of the columns the estimator sees, in order."""
    return list(pipeline.named_steps["prep"].get_feature_names_out())


def pipeline_summary(pipeline: Pipeline) -> dict[str, Any]:
    """What screening and derivation kept, for the artifact metadata and training_runs."""
    summary: dict[str, Any] = {"dropped_features": [], "derived_features": []}
    screen = pipeline.named_steps.get("screen")
    if screen is not None:
        summary["dropped_features"] = [
            {"name": c, "iv": float(screen.iv_[c])} for c in screen.dropped_
        ]
        summary["feature_iv"] = {c: float(v) for c, v in screen.iv_.items()}
    derive = pipeline.named_steps.get("derive")
    if derive is not None:
        summary["derived_features"] = derive.derived_
    summary["model_features"] = feature_names(pipeline)
    return summary
