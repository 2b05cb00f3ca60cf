"""A scored batch's reasons: each with the row's value of that feature before encoding
(the scoring input's value, a derived feature's computed value) and its contribution,
largest first; and the columns a ScoringTask returns in its target table's order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logit

from python_scoring import contract
from python_scoring.features.compiled import Predictor
from python_scoring.features.pipeline import build_pipeline, feature_names, model_input
from python_scoring.features.reasons import attribution_for
from python_scoring.scoring.task import ScoringModel, ScoringTask, _texts, scored_table

from ..features.test_pipeline import BASE, VARIANTS, frame

K = 3


def _scored(variant: str):
    (X, y), (X_new, _) = frame(5000, 1), frame(600, 2)
    pipeline = build_pipeline(dataclasses.replace(BASE, **VARIANTS[variant])).fit(X, y)
    model = pipeline.named_steps["model"]
    scoring = ScoringModel(
        list(X.columns),
        "id",
        pipeline,
        Predictor(model),
        attribution_for(model),
        feature_names(pipeline),
        K,
    )
    X_new = X_new.assign(id=np.arange(len(X_new)) + 1000)
    X_new.loc[:3, "usage"] = np.nan  # missing values: null values
    return pipeline, scoring, X_new, scored_table(X_new, scoring, {"model_name": "m"})


def _before_encoding(pipeline, rows: pd.DataFrame) -> pd.DataFrame:
    """The input with the derived columns: what the preprocessing step receives."""
    for name, step in pipeline.steps:
        if name == "prep":
            return rows
        rows = step.transform(rows)
    raise AssertionError("no prep step")


@pytest.mark.parametrize("variant", ["lightgbm", "random_forest", "logistic_onehot"])
def test_reasons_carry_the_input_value_and_contribution(variant):
    pipeline, scoring, rows, table = _scored(variant)
    assert table.schema.names == [
        "model_name",
        "entity_id",
        "score",
        *contract.reason_columns(K),
    ]
    assert (
        table.schema.field("reason_1_contribution").type
        == contract.model_scores_schema(K).field("reason_1_contribution").type
    )
    scored = table.to_pandas()
    before = _before_encoding(pipeline, rows[scoring.features]).reset_index(drop=True)
    sources = dict(zip(scoring.names, scoring.sources, strict=True))
    checked = 0
    for i, row in scored.iterrows():
        pushes = [row[f"reason_{k}_contribution"] for k in range(1, K + 1)]
        present = [p for p in pushes if not pd.isna(p)]
        assert all(p > 0 for p in present)
        assert present == sorted(present, reverse=True)  # largest first
        for k in range(1, K + 1):
            name, value = row[f"reason_{k}"], row[f"reason_{k}_value"]
            if pd.isna(name):
                assert pd.isna(value) and pd.isna(row[f"reason_{k}_contribution"])
                continue
            raw = before.loc[i, sources[name]]
            if pd.isna(raw):
                assert pd.isna(value)
            elif isinstance(raw, str):
                assert value == raw
            else:
                assert float(value) == pytest.approx(float(raw), rel=1e-15)
            checked += 1
    assert checked > len(scored) // 3  # many reasons checked
    # the contributions are the attribution's for those columns; LightGBM's and the
    # linear model's add up with the bias to the log-odds, the forest's to the probability
    inputs = model_input(pipeline, rows[scoring.features])
    contributions = scoring.attribution.contributions(inputs)
    column = {name: j for j, name in enumerate(scoring.names)}
    for i, row in scored.head(50).iterrows():
        for k in range(1, K + 1):
            if not pd.isna(row[f"reason_{k}"]):
                got = row[f"reason_{k}_contribution"]
                assert got == pytest.approx(contributions[i, column[row[f"reason_{k}"]]])
    total = contributions.sum(axis=1) + scoring.attribution.bias
    expected = scored["score"] if variant == "random_forest" else logit(scored["score"])
    np.testing.assert_allclose(total, expected, rtol=0, atol=1e-6)


def test_reason_values_of_text_and_missing_inputs():
    _, scoring, rows, table = _scored("logistic_onehot")
    scored = table.to_pandas()
    plans = scored.melt(
        id_vars="entity_id", value_vars=[f"reason_{k}" for k in range(1, K + 1)]
    ).dropna()
    plans = plans[plans["value"].str.startswith("plan_")]
    assert len(plans) > 0
    by_id = rows.set_index(rows["id"].astype(str))
    for _, reason in plans.head(30).iterrows():
        k = reason["variable"].removeprefix("reason_")
        line = scored[scored["entity_id"] == reason["entity_id"]].iloc[0]
        assert line[f"reason_{k}_value"] == by_id.loc[reason["entity_id"], "plan"]
    missing = scored[scored["entity_id"].isin(["1000", "1001", "1002", "1003"])]
    for k in range(1, K + 1):
        usage = missing[f"reason_{k}"].isin(["usage", "missingindicator_usage"])
        assert missing.loc[usage, f"reason_{k}_value"].isna().all()


def test_fewer_features_than_reasons_leave_the_rest_null():
    X, y = frame(2000, 3)
    spec = dataclasses.replace(BASE, **VARIANTS["lightgbm"], pairwise=None, iv_limit=0.0)
    X = X[["usage", "spend"]]
    pipeline = build_pipeline(spec).fit(X, y)
    model = pipeline.named_steps["model"]
    scoring = ScoringModel(
        ["usage", "spend"],
        "id",
        pipeline,
        Predictor(model),
        attribution_for(model),
        feature_names(pipeline),
        4,
    )
    scored = scored_table(X.assign(id=range(len(X))), scoring, {}).to_pandas()
    assert list(scored.columns) == ["entity_id", "score", *contract.reason_columns(4)]
    assert scored[contract.reason_columns(4)[6:]].isna().all().all()
    assert scored["reason_1"].notna().any()


def test_task_columns_follow_the_target_tables_order():
    """A table from an older scorehouse has the reason values and contributions after
    scored_at (Spark: before its partition columns); what a task returns follows it."""
    old = [
        "model_version",
        "entity_id",
        "score",
        *(f"reason_{k}" for k in range(1, 6)),
        "scored_at",
        *(c for c in contract.reason_columns(5) if c.endswith(("_value", "_contribution"))),
        "model_name",
        "score_month",
    ]
    task = ScoringTask("a", "m", "v", "d", "id", 2, False, {}, tuple(old))
    assert task.columns() == [
        "entity_id",
        "score",
        "reason_1",
        "reason_2",
        "reason_1_value",
        "reason_1_contribution",
        "reason_2_value",
        "reason_2_contribution",
    ]
    assert task.columns() == [c for c in old if c in task.columns()]
    fresh = ScoringTask("a", "m", "v", "d", "id", 2, False, {"model_name": "m"})
    assert fresh.columns() == ["model_name", "entity_id", "score", *contract.reason_columns(2)]


def _arrows(values: np.ndarray) -> list:
    return pc.cast(pa.array(values, from_pandas=True), pa.string()).to_pylist()


@pytest.mark.parametrize(
    "values",
    [
        np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e9, 1e10, 1e-6, 1e-7, 70.35, 1 / 3]),
        np.array([5e-324, 1.7976931348623157e308, 123456789012.5, -0.000123, 100.0]),
        np.array([0, -1, 2**31 - 1, 62], dtype=np.int32),
        np.array([0, 2**63 - 1, -(2**63)], dtype=np.int64),
        np.array([7, 2**64 - 1], dtype=np.uint64),
        np.array([True, False]),
        np.array(["Month-to-month", "", "naïve", None, np.nan, "1e3"], dtype=object),
        np.array([1.5, None], dtype=object),  # numbers as objects: Arrow's own cast
        np.array(["2026-11-01"], dtype="datetime64[D]"),
    ],
)
def test_value_texts_are_arrows_cast(values):
    assert _texts(values).tolist() == _arrows(values)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20))
def test_float_texts_are_arrows_cast_for_any_double(floats):
    values = np.array(floats, dtype=np.float64)
    assert _texts(values).tolist() == _arrows(values)
