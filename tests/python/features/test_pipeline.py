"""Every algorithm/encoding/imbalance combination of the registry, on a small frame: fits,
survives unseen categories and nulls at scoring, and its reasons add up to the score."""

import dataclasses
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.special import logit

from python_scoring.errors import ScorehouseError
from python_scoring.features.pipeline import (
    build_pipeline,
    feature_names,
    model_input,
    split_feature_types,
    trained_kinds,
)
from python_scoring.features.reasons import attribution_for
from python_scoring.registry import ModelSpec, Pairwise
from python_scoring.warehouse import to_pandas

BASE = ModelSpec(
    name="m",
    scenario="s",
    entity_id="id",
    label="y",
    training_set="t",
    scoring_input="i",
    iv_limit=0.01,
    pairwise=Pairwise(top_k=3),
    params={},
)
VARIANTS = {
    "lightgbm": dict(params={"n_estimators": 30}),
    "lightgbm-smote": dict(params={"n_estimators": 30}, imbalance="smote"),
    "random_forest": dict(algorithm="random_forest", params={"n_estimators": 20}),
    "logistic_onehot": dict(algorithm="logistic_regression"),
    "logistic_woe": dict(algorithm="logistic_regression", encoding="woe"),
    "logistic_none": dict(algorithm="logistic_regression", imbalance="none", pairwise=None),
}


def frame(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2.0, 50.0, n)
    spend = rng.gamma(2.0, 5.0, n)
    plan = rng.choice(["basic", "plus", "max"], n, p=[0.6, 0.3, 0.1])
    risk = np.log(spend / usage) + (plan == "max") + rng.normal(scale=0.5, size=n)
    X = pd.DataFrame(
        {
            "usage": np.where(rng.random(n) < 0.05, np.nan, usage),
            "spend": spend,
            "tenure": rng.integers(0, 60, n),
            "flag": rng.random(n) < 0.3,
            "plan": pd.Series(plan, dtype="str"),
            "noise": rng.normal(size=n),
        }
    )
    return X, pd.Series((risk > np.quantile(risk, 0.85)).astype(int))


@pytest.fixture(scope="module")
def data():
    return frame(6000, 1), frame(2000, 2)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fits_scores_unseen_values_and_explains(data, variant):
    (X, y), (X_new, y_new) = data
    spec = dataclasses.replace(BASE, **VARIANTS[variant])
    pipeline = build_pipeline(spec).fit(X, y)
    score = pipeline.predict_proba(X_new)[:, 1]
    assert np.isfinite(score).all()
    assert (score[y_new == 1].mean() - score[y_new == 0].mean()) > 0.1  # it learned

    # unseen category, all-null row, missing boolean: scored, not refused
    odd = X_new.head(3).copy()
    odd["plan"] = pd.Series(["ultra", None, "basic"], dtype="str")
    odd.loc[1, ["usage", "spend", "tenure"]] = np.nan
    assert np.isfinite(pipeline.predict_proba(odd)[:, 1]).all()

    # reasons: contributions + bias give back the model's score (log-odds for boosting
    # and logistic regression, probability for the forest)
    model = pipeline.named_steps["model"]
    inputs = model_input(pipeline, X_new)
    attribution = attribution_for(model)
    total = attribution.contributions(inputs).sum(axis=1) + attribution.bias
    proba = model.predict_proba(inputs)[:, 1]
    expected = proba if variant == "random_forest" else logit(proba)
    np.testing.assert_allclose(total, expected, rtol=0, atol=1e-6)
    assert len(feature_names(pipeline)) == inputs.shape[1]


def test_smote_balances_the_training_classes(data):
    (X, y), _ = data
    spec = dataclasses.replace(BASE, imbalance="smote", params={"n_estimators": 10})
    pipeline = build_pipeline(spec).fit(X, y)
    smote = pipeline.named_steps["smote"]
    assert smote.sampling_strategy_ == {1: int((y == 0).sum() - (y == 1).sum())}
    # scoring never resamples: one score per input row
    assert len(pipeline.predict_proba(X.head(17))) == 17


def test_class_weights_only_when_asked_and_params_override():
    weighted = dataclasses.replace(BASE, imbalance="class_weight")
    assert build_pipeline(weighted).named_steps["model"].class_weight == "balanced"
    assert build_pipeline(BASE).named_steps["model"].class_weight is None  # default: none
    pipeline = build_pipeline(dataclasses.replace(weighted, params={"class_weight": None}))
    assert pipeline.named_steps["model"].class_weight is None
    assert "screen" in build_pipeline(BASE).named_steps
    assert "screen" not in build_pipeline(dataclasses.replace(BASE, iv_limit=0.0)).named_steps


def as_engine_gives(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as the warehouse hands it over (Arrow to pandas, as every engine's rows)."""
    return to_pandas(pa.Table.from_pandas(frame, preserve_index=False))


def test_feature_types_and_all_null_columns(caplog):
    n = 4
    frame = as_engine_gives(
        pd.DataFrame(
            {
                "count": [1, 2, 3, 4],
                "flag": [True, False, True, False],
                "plan": ["a", "b", "a", None],
                "opened": pd.to_datetime(["2024-01-01"] * n).date,
                "note": pd.Series([None] * n, dtype="str"),
                "untyped": [None] * n,
                "empty_number": [np.nan] * n,
            }
        )
    )
    with caplog.at_level(logging.WARNING, logger="python_scoring.features.pipeline"):
        numeric, categorical = split_feature_types(frame, list(frame.columns), "ml.t")
    assert (numeric, categorical) == (["count", "flag"], ["plan"])
    for col in ("note", "untyped", "empty_number"):
        assert f"feature column '{col}' is null on every row of ml.t: left out" in caplog.text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([True, None, False], "holds numbers as Python objects (bool)"),
        (["a", 1, None], "holds mixed (int, str) values, neither numbers nor text"),
        ([b"x", b"y", None], "holds bytes values, neither numbers nor text"),
    ],
)
def test_columns_neither_numbers_nor_text_are_refused(values, message):
    frame = pd.DataFrame({"odd": pd.Series(values, dtype=object)})
    with pytest.raises(ScorehouseError) as refused:
        split_feature_types(frame, ["odd"], "ml.t")
    assert str(refused.value).startswith(f"feature column 'odd' of ml.t {message}")


@pytest.mark.parametrize("variant", ["lightgbm", "logistic_onehot", "logistic_woe"])
def test_scoring_input_types_checked_null_columns_scored(data, variant):
    (X, y), (X_new, _) = data
    pipeline = build_pipeline(dataclasses.replace(BASE, **VARIANTS[variant])).fit(X, y)
    assert trained_kinds(pipeline)["plan"] == "text"
    assert trained_kinds(pipeline)["usage"] == "numeric"
    rows = X_new.head(20).copy()
    # null on every row, typed as the warehouse may type an empty column: scored
    nulls = rows.assign(usage=pd.Series([None] * 20, dtype="str"), plan=np.nan)
    expected = pipeline.predict_proba(rows.assign(usage=np.nan, plan=None))[:, 1]
    got = pipeline.named_steps["model"].predict_proba(model_input(pipeline, nulls))[:, 1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # a boolean with nulls arrives as Python objects: scored as numbers
    flags = rows.assign(flag=pd.Series([True, None] * 10, dtype=object))
    assert np.isfinite(
        pipeline.named_steps["model"].predict_proba(model_input(pipeline, flags))
    ).all()
    # a switched type: one line naming the column, both types and where
    with pytest.raises(ScorehouseError) as refused:
        model_input(pipeline, as_engine_gives(rows.assign(spend=rows["spend"].astype(str))), "ml.s")
    assert str(refused.value) == (
        "feature column 'spend' was numeric in training and is text (str) in ml.s: cast it "
        "back to numeric in the dbt model, or retrain the model"
    )
