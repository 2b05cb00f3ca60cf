"""The row path (features/rowpath.py): a fitted pipeline's transform compiled to numpy for
small batches gives what the pipeline gives, bit for bit, on every row scored alone;
scored single rows equal the scored batch; a step it does not know, or a transform that
differs from the pipeline's, leaves small batches to the pipeline."""

from __future__ import annotations

import copy
import dataclasses
import logging
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from lightgbm import LGBMClassifier

from python_scoring.artifacts import Artifact
from python_scoring.errors import ScorehouseError
from python_scoring.features import compiled, rowpath
from python_scoring.features.pipeline import build_blend, build_pipeline, model_frames
from python_scoring.features.reasons import encoded_sources
from python_scoring.features.transformers import pairwise
from python_scoring.scoring.task import ROW_PATH_ROWS, scored_table, scoring_model
from python_scoring.warehouse import to_pandas

from .test_pipeline import BASE, VARIANTS

FEATURES = ["usage", "spend", "tenure", "flag", "plan", "noise"]
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("usage", pa.float64()),
        ("spend", pa.float64()),
        ("tenure", pa.int32()),
        ("flag", pa.bool_()),
        ("plan", pa.string()),
        ("noise", pa.float64()),
    ]
)
SPEC = dataclasses.replace(BASE, iv_limit=0.05)  # screens noise out
KINDS = ["lightgbm", "random_forest", "logistic_onehot", "logistic_woe", "blend"]
K = 3


def training(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers with nulls, an int32 and a boolean that matter, text with nulls and a rare
    category (infrequent for one-hot encoding: min_frequency 20), noise."""
    rng = np.random.default_rng(seed)
    usage, spend = rng.gamma(2.0, 50.0, n), rng.gamma(2.0, 5.0, n)
    tenure, flag = rng.integers(0, 72, n), rng.random(n) < 0.3
    plan = rng.choice(["basic", "plus", "max", "legacy"], n, p=[0.58, 0.3, 0.115, 0.005])
    risk = np.log(spend / usage) + (plan == "max") + 0.8 * flag - tenure / 40
    risk += rng.normal(scale=0.5, size=n)
    plan = plan.astype(object)
    plan[rng.random(n) < 0.03] = None
    X = pd.DataFrame(
        {
            "usage": np.where(rng.random(n) < 0.05, np.nan, usage),
            "spend": spend,
            "tenure": tenure.astype("int32"),
            "flag": flag,
            "plan": pd.Series(plan, dtype="str"),
            "noise": rng.normal(size=n),
        }
    )
    return X, pd.Series((risk > np.quantile(risk, 0.85)).astype(int))


@pytest.fixture(scope="module")
def pipelines():
    X, y = training(3000, 1)
    fitted = {
        kind: build_pipeline(dataclasses.replace(SPEC, **VARIANTS[kind])).fit(X, y)
        for kind in KINDS[:-1]
    }
    tree = dataclasses.replace(SPEC, **VARIANTS["lightgbm"])
    linear = dataclasses.replace(SPEC, **VARIANTS["logistic_onehot"])
    fitted["blend"] = build_blend(tree, linear)
    fitted["blend"].fit(X, y)
    return fitted


def _request_rows() -> list[dict]:
    """Scoring-input rows as the service receives them (JSON objects, typed by the input's
    Arrow schema), with the values that test conversions: nulls, an unseen category, a / 0."""
    X, _ = training(150, 2)
    rows = pa.Table.from_pandas(X.assign(id=np.arange(150) + 1000), schema=SCHEMA).to_pylist()
    rows[0].update(plan="ultra", flag=None, tenure=None)  # unseen category, nulls
    rows[1].update(usage=None, spend=None, tenure=None, flag=None, plan=None, noise=None)
    rows[2].update(plan="legacy", usage=0.0, spend=0.0, tenure=0, noise=0.0)  # a / 0
    rows[3].update(plan="max", tenure=62, flag=True)
    for i in range(7, 150, 7):
        rows[i]["flag"] = None
    for i in range(5, 150, 11):
        rows[i]["plan"] = None
    return rows


@pytest.fixture(scope="module")
def scoring():
    """The request rows as batch scoring converts them: the batch, and each row as its own
    frame (an int32 stays int32 unless null, a boolean with a null arrives as Python
    objects)."""
    rows = _request_rows()
    batch = to_pandas(pa.Table.from_pylist(rows, schema=SCHEMA))
    singles = [to_pandas(pa.Table.from_pylist([row], schema=SCHEMA)) for row in rows]
    return batch, singles


def _text(values) -> list:
    return pc.cast(pa.array(values, from_pandas=True), pa.string()).to_pylist()


def _model(pipeline, batch, tmp_path, compile_trees=True):
    artifact = Artifact("m", "v1", tmp_path, {"sha256": "ab" * 32, "features": FEATURES})
    return scoring_model(artifact, pipeline, "id", K, compile_trees, sample=batch)


@pytest.mark.parametrize("kind", KINDS)
def test_row_path_gives_what_the_pipeline_gives_row_by_row(pipelines, scoring, kind):
    pipeline = pipelines[kind]
    batch, singles = scoring
    assert pipeline.named_steps["screen"].dropped_ == ["noise"]
    assert len(pipeline.named_steps["derive"].derived_) >= 2
    rows = rowpath.verified_rows(pipeline, batch[FEATURES])
    assert rows is not None
    prep = pipeline.named_steps["prep"]
    sources = {s for s in encoded_sources(prep, list(prep.get_feature_names_out())) if s}
    assert {"tenure", "flag", "plan", "usage__per__spend"} <= sources
    types = set()
    for frame in [*singles, batch.head(ROW_PATH_ROWS), batch.iloc[5:8]]:
        got = rows(frame)  # the frame with its id column, as scored_table passes it
        assert got is not None
        (before, transformed), (want_before, want) = got, model_frames(pipeline, frame[FEATURES])
        assert list(transformed.columns) == list(want.columns)
        assert np.array_equal(
            transformed.to_numpy(), want.to_numpy(dtype="float64"), equal_nan=True
        )
        for name in sources:
            assert _text(before[name]) == _text(want_before[name]), name
        types |= {(name, str(want_before[name].dtype)) for name in ("tenure", "flag")}
    # every column type a row can arrive as went through the row path
    assert types == {
        ("tenure", "int32"),
        ("tenure", "float64"),
        ("flag", "bool"),
        ("flag", "float64"),
    }


def test_what_the_row_path_computes(pipelines, scoring):
    """Values checked by hand, not only against the pipeline."""
    _, singles = scoring
    unseen, empty, zeros, known = singles[:4]
    trees = rowpath.compile_rows(pipelines["lightgbm"])
    before, x = trees(unseen)
    assert np.isnan(x["plan"].iloc[0]) and np.isnan(x["tenure"].iloc[0])
    categories = list(
        pipelines["lightgbm"].named_steps["prep"].named_transformers_["categorical"].categories_[0]
    )
    assert trees(known)[1]["plan"].iloc[0] == categories.index("max")
    # a / 0 and nulls give a null; an int32 shows as one, a boolean as true
    before, x = trees(zeros)
    assert np.isnan(before["usage__per__spend"][0]) and before["usage__times__spend"][0] == 0.0
    before, _ = trees(known)
    assert before["tenure"].dtype == np.int32 and _text(before["tenure"]) == ["62"]
    assert _text(before["flag"]) == ["true"]
    assert _text(trees(unseen)[0]["flag"]) == [None]  # a boolean's null: float NaN
    # one-hot: unseen all zeros, missing its own column, rare the infrequent one
    onehot = rowpath.compile_rows(pipelines["logistic_onehot"])
    plans = [c for c in onehot.names if c.startswith("plan_")]
    assert plans == [
        "plan_(missing)",
        "plan_basic",
        "plan_max",
        "plan_plus",
        "plan_infrequent_sklearn",
    ]
    assert onehot(unseen)[1][plans].to_numpy().tolist() == [[0, 0, 0, 0, 0]]
    assert onehot(empty)[1][plans].to_numpy().tolist() == [[1, 0, 0, 0, 0]]
    assert onehot(zeros)[1][plans].to_numpy().tolist() == [[0, 0, 0, 0, 1]]
    scaler = pipelines["logistic_onehot"].named_steps["prep"].named_transformers_["numeric"][-1]
    imputer = pipelines["logistic_onehot"].named_steps["prep"].named_transformers_["numeric"][0]
    usage = list(scaler.feature_names_in_).index("usage")
    expected = (imputer.statistics_[usage] - scaler.mean_[usage]) / scaler.scale_[usage]
    assert onehot(empty)[1]["usage"].iloc[0] == expected
    assert (
        onehot(empty)[1]["missingindicator_usage"].iloc[0]
        != onehot(known)[1]["missingindicator_usage"].iloc[0]
    )
    # WOE: unseen text 0, a null number its bin's WOE, a number its bin's
    woe = rowpath.compile_rows(pipelines["logistic_woe"])
    encoders = pipelines["logistic_woe"].named_steps["prep"].named_transformers_
    assert woe(unseen)[1]["plan"].iloc[0] == 0.0
    assert woe(empty)[1]["usage"].iloc[0] == encoders["woe"].woe_["usage"][None]
    cuts = encoders["woe"].cuts_["tenure"]
    assert (
        woe(known)[1]["tenure"].iloc[0]
        == encoders["woe"].woe_["tenure"][int(np.searchsorted(cuts, 62))]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_scored_single_rows_equal_the_scored_batch(pipelines, scoring, kind, tmp_path):
    batch, singles = scoring
    model = _model(pipelines[kind], batch, tmp_path)
    assert model.rows is not None
    if kind == "lightgbm":
        assert model.predictor.method == "lleaves"
    calls = []

    def rows(frame):
        calls.append(len(frame))
        return model.rows(frame)

    spied = dataclasses.replace(model, rows=rows)
    big = pd.concat([batch] * (ROW_PATH_ROWS // len(batch) + 1), ignore_index=True)
    whole = scored_table(big, spied, {}).to_pylist()[: len(batch)]
    assert calls == []  # more than ROW_PATH_ROWS rows: the pipeline
    scored_table(big.head(ROW_PATH_ROWS), spied, {})
    assert calls == [ROW_PATH_ROWS]
    for i, want in enumerate(whole):
        _same(scored_table(batch.iloc[[i]], spied, {}).to_pylist()[0], want)
    assert len(calls) == 1 + len(whole)
    # rows as the service builds them (other column types): as the pipeline scores them
    pipeline_only = dataclasses.replace(model, rows=None)
    reasons = 0
    for single in singles:
        got = scored_table(single, spied, {}).to_pylist()[0]
        _same(got, scored_table(single, pipeline_only, {}).to_pylist()[0])
        reasons += sum(got[f"reason_{k}_value"] is not None for k in range(1, K + 1))
    assert len(calls) == 1 + 2 * len(whole) and reasons > len(singles)


@pytest.mark.parametrize("kind", KINDS)
def test_request_rows_and_arrow_tables_score_as_batch_frames(pipelines, kind, tmp_path):
    """The service's inputs (a request's Rows, by-id Arrow tables) skip pandas on the row
    path and score as the same rows converted as batches are; values the row path was
    not written for fall back (a boolean with a null: Rows -> Arrow -> pandas)."""
    rows = _request_rows()
    sample = pa.Table.from_pylist(rows, schema=SCHEMA)  # what the service verifies on
    model = _model(pipelines[kind], sample, tmp_path)
    assert model.rows is not None
    seen = []

    def spy(frame):
        got = model.rows(frame)
        seen.append((type(frame).__name__, got is not None))
        return got

    spied = dataclasses.replace(model, rows=spy)
    for i, row in enumerate(rows):
        want = scored_table(to_pandas(pa.Table.from_pylist([row], schema=SCHEMA)), model, {})
        want = want.to_pylist()[0]
        assert want["entity_id"] == str(1000 + i)
        seen.clear()
        _same(scored_table(rowpath.Rows([row], SCHEMA, "id"), spied, {}).to_pylist()[0], want)
        if row["flag"] is None:  # declined until pandas turns the boolean into floats
            assert seen == [("Rows", False), ("Table", False), ("DataFrame", True)], i
        else:
            assert seen == [("Rows", True)], i
        arrow = pa.Table.from_pylist([row], schema=SCHEMA)
        _same(scored_table(arrow, model, {}).to_pylist()[0], want)
    # a few rows together, and a row without id named by its position
    several = [dict(r) for r in rows[8:13]]
    del several[2]["id"]
    got = scored_table(rowpath.Rows(several, SCHEMA, "id"), model, {}).to_pylist()
    want = scored_table(to_pandas(pa.Table.from_pylist(rows[8:13], schema=SCHEMA)), model, {})
    assert [r["entity_id"] for r in got] == ["1008", "1009", "2", "1011", "1012"]
    for g, w in zip(got, want.to_pylist(), strict=True):
        _same({**g, "entity_id": w["entity_id"]}, w)
    # a value the column's type cannot hold: the error names the column, as Arrow's would
    with pytest.raises(ValueError, match=r"^tenure: not a int32 value"):
        scored_table(rowpath.Rows([{**rows[3], "tenure": 2**40}], SCHEMA, "id"), model, {})


def _same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=0, abs=1e-12), key
        else:
            assert got[key] == value, key


def test_a_step_it_does_not_know_leaves_rows_to_the_pipeline(scoring, tmp_path, caplog):
    X, y = training(3000, 1)
    spec = dataclasses.replace(SPEC, algorithm="logistic_regression", encoding="spline")
    pipeline = build_pipeline(spec).fit(X, y)
    batch, singles = scoring
    with caplog.at_level(logging.INFO, logger="python_scoring.features.rowpath"):
        model = _model(pipeline, batch, tmp_path)
    assert model.rows is None
    assert "prep/numeric (SplineNumbers): SplineNumbers not compiled" in caplog.text
    got = scored_table(singles[3], model, {}).to_pylist()[0]["score"]
    assert got == pytest.approx(pipeline.predict_proba(singles[3][FEATURES])[0, 1], abs=1e-12)


def _tamper_woe_text(pipeline):
    pipeline.named_steps["prep"].named_transformers_["woe_text"].woe_["plan"]["basic"] += 0.25


def _tamper_woe_bins(pipeline):
    pipeline.named_steps["prep"].named_transformers_["woe"].woe_["tenure"][0] -= 1e-9


def _tamper_ordinal(pipeline):
    encoder = pipeline.named_steps["prep"].named_transformers_["categorical"]
    encoder.categories_[0] = encoder.categories_[0][[1, 0, *range(2, len(encoder.categories_[0]))]]


@pytest.mark.parametrize(
    ("kind", "tamper", "step"),
    [
        ("logistic_woe", _tamper_woe_text, "step prep/woe_text (WoeEncoder): plan is"),
        ("logistic_woe", _tamper_woe_bins, "step prep/woe (WoeEncoder): tenure is"),
        ("lightgbm", _tamper_ordinal, "step prep/categorical (OrdinalEncoder): plan is"),
    ],
)
def test_a_transform_that_differs_is_refused(
    pipelines, scoring, kind, tamper, step, monkeypatch, caplog
):
    pipeline = pipelines[kind]
    tampered = copy.deepcopy(pipeline)
    tamper(tampered)
    compile_rows = rowpath.compile_rows
    monkeypatch.setattr(rowpath, "compile_rows", lambda _: compile_rows(tampered))
    batch, _ = scoring
    assert rowpath.verified_rows(pipeline, batch[FEATURES]) is None
    assert f"row path discarded, {step}" in caplog.text
    monkeypatch.setattr(rowpath, "compile_rows", compile_rows)
    assert rowpath.verified_rows(pipeline, batch[FEATURES]) is not None


def test_derived_values_that_differ_are_refused(pipelines, scoring, monkeypatch, caplog):
    batch, _ = scoring
    monkeypatch.setattr(rowpath, "_apply", lambda op, a, b: pairwise._apply(op, a, b) * (1 + 1e-15))
    assert rowpath.verified_rows(pipelines["random_forest"], batch[FEATURES]) is None
    derived = r"\w+__(plus|minus|times|per)__\w+"
    assert re.search(
        rf"row path discarded, step derive \(PairwiseFeatures\): the value text of {derived}",
        caplog.text,
    )


def test_values_it_was_not_written_for_go_through_the_pipeline(pipelines, scoring, tmp_path):
    batch, singles = scoring
    model = _model(pipelines["logistic_woe"], batch, tmp_path)
    pipeline_only = dataclasses.replace(model, rows=None)
    # an infinite number in a binned column: the pipeline refuses it (assign_bins)
    infinite = singles[3].assign(spend=np.inf)
    assert model.rows(infinite) is None
    with pytest.raises(ValueError, match="holds infinite values"):
        scored_table(infinite, model, {})
    # text where the model was trained on numbers: the pipeline's own error
    text = singles[3].assign(spend=pd.Series(["12.5"], dtype="str"))
    with pytest.raises(ScorehouseError) as row_path:
        scored_table(text, model, {})
    with pytest.raises(ScorehouseError) as pipeline:
        scored_table(text, pipeline_only, {})
    assert str(row_path.value) == str(pipeline.value) and "'spend' was numeric" in str(
        pipeline.value
    )
    # float32 numbers (scikit-learn would compute in float32): the pipeline scores them
    narrow = singles[3].assign(spend=singles[3]["spend"].astype("float32"))
    assert model.rows(narrow) is None
    assert scored_table(narrow, model, {}).equals(scored_table(narrow, pipeline_only, {}))


def test_compiled_lightgbm_predicts_small_batches_on_one_thread():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1200, 4))
    model = LGBMClassifier(n_estimators=10, verbose=-1).fit(X, (X[:, 0] > 0).astype(int))

    class Library:  # stands in for lleaves: LightGBM's own scores, and the threads asked
        def __init__(self, off: float = 0.0) -> None:
            self.threads: list[int] = []
            self.off = off

        def predict(self, values, n_jobs):
            self.threads.append(n_jobs)
            return model.booster_.predict(values) + self.off

    library = Library()
    predictor = compiled.CompiledLightGBM(model, library)
    for n in (1, compiled.THREADED_ROWS - 1, compiled.THREADED_ROWS):
        np.testing.assert_array_equal(predictor.predict(X[:n]), model.booster_.predict(X[:n]))
    assert library.threads == [1, 1, compiled.THREADS] and predictor.checked
    # the first batch is checked against LightGBM, a single row too
    fallback = compiled._FallbackOnMismatch(compiled.CompiledLightGBM(model, Library(off=1e-6)))
    np.testing.assert_array_equal(fallback.predict(X[:1]), model.predict_proba(X[:1])[:, 1])
    assert fallback.method == "estimator"
