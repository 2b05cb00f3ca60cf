"""`search: auto`'s parts on a small frame: the time budget, the blend of a tree and a
linear model (one picklable estimator that scoring and reason codes take), and the
spline encoding of numbers."""

from __future__ import annotations

import dataclasses
import logging
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from python_scoring.features.blend import BLEND_MISSING, ProbabilityBlend
from python_scoring.features.pipeline import (
    build_blend,
    build_pipeline,
    feature_names,
    model_input,
    trained_kinds,
)
from python_scoring.features.reasons import LinearAttribution, attribution_for, top_reasons
from python_scoring.features.transformers import SplineNumbers
from python_scoring.registry import ModelSpec, Search
from python_scoring.training.search import auto_search

SPEC = ModelSpec(
    name="m",
    scenario="s",
    entity_id="id",
    label="y",
    training_set="t",
    scoring_input="i",
    search=Search(space={}, auto=True),
)


def frame(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Risk bends with tenure (high in the first months), rises with spend and plan."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n).astype(float)
    spend = rng.gamma(2.0, 30.0, n)
    plan = rng.choice(["basic", "plus", "max"], n, p=[0.6, 0.3, 0.1])
    risk = -np.log1p(tenure) + spend / 60 + (plan == "max") + rng.normal(scale=0.7, size=n)
    X = pd.DataFrame(
        {
            "tenure": tenure,
            "spend": np.where(rng.random(n) < 0.05, np.nan, spend),
            "paperless": rng.integers(0, 2, n),
            "plan": pd.Series(plan, dtype="str"),
        }
    )
    return X, pd.Series((risk > np.quantile(risk, 0.75)).astype(int))


@pytest.fixture(scope="module")
def data():
    return frame(3000, 1), frame(1000, 2)


@pytest.fixture(scope="module")
def blend(data):
    (X, y), _ = data
    tree = dataclasses.replace(SPEC, search=None)
    linear = dataclasses.replace(tree, algorithm="logistic_regression", encoding="spline")
    return build_blend(tree, linear).fit(X, y)


def test_blend_is_the_mean_of_its_members_and_pickles(data, blend):
    _, (X_new, _) = data
    again = pickle.loads(pickle.dumps(blend))
    model = again.named_steps["model"]
    assert isinstance(model, ProbabilityBlend) and model.tree_weight == 0.5
    inputs = model_input(again, X_new)
    tree_columns = [c for c in inputs.columns if c.startswith("tree__")]
    linear_columns = [c for c in inputs.columns if not c.startswith("tree__")]
    assert tree_columns == ["tree__tenure", "tree__spend", "tree__paperless", "tree__plan"]
    tree_inputs = inputs[tree_columns]
    assert (tree_inputs["tree__spend"] == BLEND_MISSING).sum() > 20  # the 5 % missing
    expected = (
        model.tree_.predict_proba(tree_inputs.mask(tree_inputs == BLEND_MISSING))
        + model.linear_.predict_proba(inputs[linear_columns])
    ) / 2
    np.testing.assert_allclose(again.predict_proba(X_new), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(again.predict_proba(X_new), blend.predict_proba(X_new))
    # the tree member saw the text as ordinal codes, the linear member as one-hot columns
    assert {"plan_basic", "plan_max", "plan_plus"} <= set(linear_columns)
    assert trained_kinds(again) == {
        "tenure": "numeric",
        "spend": "numeric",
        "paperless": "numeric",
        "plan": "text",
    }


def test_blend_reasons_are_its_linear_members(data, blend):
    _, (X_new, _) = data
    model = blend.named_steps["model"]
    attribution = attribution_for(model)
    assert isinstance(attribution, LinearAttribution)
    inputs = model_input(blend, X_new)
    contributions = attribution.contributions(inputs)
    tree = np.asarray([c.startswith("tree__") for c in inputs.columns])
    assert np.all(contributions[:, tree] == 0)  # never a reason (missing values included)
    assert inputs.loc[:, tree].isin([BLEND_MISSING]).any().any()
    linear = model.linear_
    own = np.asarray(inputs.loc[:, ~tree], dtype="float64") * linear.coef_.ravel()
    np.testing.assert_allclose(contributions[:, ~tree], own)
    assert attribution.bias == pytest.approx(float(linear.intercept_[0]))
    reasons = top_reasons(contributions, feature_names(blend), 2)
    named = {r for column in reasons for r in column if r is not None}
    assert named and not any(r.startswith("tree__") for r in named)
    assert any(r.startswith("tenure_[") for r in named)  # a spline basis, named by its range


def test_spline_numbers_bend_nulls_and_far_values():
    X = pd.DataFrame(
        {
            "tenure": np.r_[np.arange(100.0), [np.nan]],
            "flag": np.r_[np.tile([0.0, 1.0], 50), [1.0]],
        }
    )
    spline = SplineNumbers().fit(X)
    names = list(spline.get_feature_names_out())
    # 5 knots, degree 3, no bias column: 6 bases, named by where they are not zero
    assert names[:6] == [
        "tenure_[0..24.8]",
        "tenure_[0..49.5]",
        "tenure_[0..74.2]",
        "tenure_[0..99]",
        "tenure_[24.8..99]",
        "tenure_[49.5..99]",
    ]
    assert names[-2:] == ["tenure_missing", "flag"]  # few values: left as it is
    out = spline.transform(X)
    assert list(out.columns) == names and np.isfinite(out.to_numpy()).all()
    assert out["tenure_missing"].iloc[-1] > 0 > out["tenure_missing"].iloc[0]
    # beyond the training range the basis stays as it is at the edge (constant)
    far = spline.transform(pd.DataFrame({"tenure": [99.0, 10_000.0], "flag": [0.0, 0.0]}))
    np.testing.assert_allclose(far.iloc[0], far.iloc[1])


def test_auto_search_stops_starting_candidates_once_its_budget_is_spent(data, caplog):
    (X, y), _ = data
    groups = np.arange(len(y))
    with caplog.at_level(logging.INFO, logger="python_scoring.training.search"):
        pipeline, info = auto_search(SPEC, X, y, groups, budget_seconds=1e-9)
    assert list(info["candidates"]) == ["lightgbm"]  # the first always starts
    assert info["not_started"] == [
        "logistic_regression",
        "logistic_regression_woe",
        "logistic_regression_spline",
        "random_forest",
    ]
    assert info["chosen"] == "lightgbm" and info["blend_members"] is None
    assert "budget of 0s spent" in caplog.text and "not started: logistic_regression" in caplog.text
    assert type(pipeline.named_steps["model"]).__name__ == "EarlyStoppedLGBMClassifier"


def test_auto_search_scores_every_family_and_the_blend(data):
    (X, y), (X_new, y_new) = data
    groups = np.repeat(np.arange(len(y) // 2), 2)  # two rows per entity, never split
    pipeline, info = auto_search(SPEC, X, y, groups, budget_seconds=600)
    assert set(info["candidates"]) == {
        "lightgbm",
        "logistic_regression",
        "logistic_regression_woe",
        "logistic_regression_spline",
        "random_forest",
        "blend",
    }
    assert info["not_started"] == [] and info["inner_folds"] == 3
    tree, linear = info["blend_members"]
    assert info["candidates"][tree] == max(
        info["candidates"][n] for n in ("lightgbm", "random_forest")
    )
    assert info["best_score"] == pytest.approx(max(info["candidates"].values()), abs=1e-6)
    chosen = pipeline.named_steps["model"]
    assert isinstance(chosen, ProbabilityBlend) == (info["chosen"] == f"blend({tree}+{linear})")
    assert roc_auc_score(y_new, pipeline.predict_proba(X_new)[:, 1]) > 0.8


def test_smote_models_get_no_blend(data):
    (X, y), _ = data
    spec = dataclasses.replace(SPEC, imbalance="smote")
    _, info = auto_search(spec, X.head(600), y.head(600), np.arange(600), budget_seconds=600)
    assert "blend" not in info["candidates"] and info["blend_members"] is None
    assert build_pipeline(dataclasses.replace(spec, search=None)).named_steps["smote"]


def test_a_blend_scores_and_explains_through_the_scoring_code(data, blend):
    from python_scoring.features.compiled import Predictor
    from python_scoring.scoring.task import ScoringModel, scored_table

    _, (X_new, _) = data
    model = blend.named_steps["model"]
    scoring = ScoringModel(
        features=list(X_new.columns),
        entity_id="id",
        pipeline=blend,
        predictor=Predictor(model),
        attribution=attribution_for(model),
        names=feature_names(blend),
        n_reasons=3,
    )
    rows = X_new.head(200).assign(id=[f"c{i}" for i in range(200)])
    table = scored_table(rows, scoring, {"model_name": "m"}).to_pandas()
    np.testing.assert_allclose(table["score"], blend.predict_proba(X_new.head(200))[:, 1])
    names = table[[f"reason_{k}" for k in (1, 2, 3)]].stack().dropna()
    assert len(names) > 200 and not names.str.startswith("tree__").any()
    # a spline basis's reason shows the customer's value of the column it bends
    spline = table["reason_1"].fillna("").str.startswith("tenure_[")
    assert spline.sum() > 5
    shown = table.loc[spline, "reason_1_value"].astype(float)
    np.testing.assert_allclose(shown, rows.loc[spline.to_numpy(), "tenure"])
