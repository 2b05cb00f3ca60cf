"""Faults of training and of what training leaves behind for scoring, as the fault trials of
issue 15 met them: a disk that fills up while the trees compile, a corrupt compiled cache,
duplicate (id, month) rows in a training set, misspelt estimator parameters, an all-null
text feature, a feature whose type switches between training and scoring. Each either
works or ends in one line (ScorehouseError) naming the problem: never a traceback, never a
crash, never silently wrong.

Fast: an in-memory DuckDB training set (no dbt build) and small LightGBM models."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from lightgbm import LGBMClassifier

from python_scoring.artifacts import Artifact, sha256_of
from python_scoring.errors import ScorehouseError
from python_scoring.features import compiled
from python_scoring.features.pipeline import build_pipeline, model_input, split_feature_types
from python_scoring.project import Relation
from python_scoring.registry import ModelSpec, Pairwise, load_registry
from python_scoring.training import train
from python_scoring.warehouse import to_pandas
from python_scoring.warehouse._duckdb import DuckDBWarehouse

from ..test_registry import FakeProject, exposure

SHA = "cd" * 32
LIBRARY = f"compiled-{SHA}.so"
RECORD = f"compiled-{SHA}.json"


# --- disk full while compiling; a bad compiled cache ------------------------------------


@pytest.fixture(scope="module")
def booster():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(3000, 8)), columns=[f"f{i}" for i in range(8)])
    X[X > 2.0] = np.nan
    y = ((X["f0"].fillna(0) - X["f3"].fillna(0) + rng.normal(size=3000)) > 0.5).astype(int)
    return LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1).fit(X, y), X


def _artifact(path: Path) -> Artifact:
    return Artifact("m", "v1", path, {"sha256": SHA})


@pytest.fixture
def disk_fills_up(monkeypatch):
    """lleaves writes the compiled library from inside an LLVM callback, which swallows any
    exception: a full disk leaves the first `kept` of its bytes and compilation 'succeeds'."""
    import lleaves.llvm_binding

    def fill(kept: float):
        class FullDisk(type(Path())):
            def write_bytes(self, data):
                with open(self, "wb") as fh:
                    fh.write(bytes(data)[: int(len(data) * kept)])
                raise OSError(errno.ENOSPC, "No space left on device", str(self))

        monkeypatch.setattr(lleaves.llvm_binding, "Path", FullDisk)

    return fill


@pytest.mark.parametrize("kept", [0.0, 0.5, 0.97])
def test_disk_full_while_compiling_records_nothing(booster, tmp_path, caplog, disk_fills_up, kept):
    model, X = booster
    disk_fills_up(kept)
    predictor = compiled.predictor_for(model, _artifact(tmp_path))
    # this run still scores right (the library compiled in memory is complete) ...
    np.testing.assert_allclose(predictor.predict(X), model.predict_proba(X)[:, 1], atol=1e-12)
    # ... but the truncated file is never put in place nor recorded, nor left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert "not written completely" in caplog.text and "not cached" in caplog.text


def test_after_a_full_disk_the_next_run_compiles_and_caches(
    booster, tmp_path, caplog, disk_fills_up, monkeypatch
):
    model, X = booster
    disk_fills_up(0.5)
    compiled.predictor_for(model, _artifact(tmp_path)).predict(X.head(5))
    assert not (tmp_path / LIBRARY).exists()  # else the next run would load it: LLVM abort
    monkeypatch.undo()  # space freed
    caplog.set_level(logging.INFO, logger="python_scoring.features.compiled")
    predictor = compiled.predictor_for(model, _artifact(tmp_path))
    assert "compiled v1 with lleaves" in caplog.text
    library, record = tmp_path / LIBRARY, tmp_path / RECORD
    assert json.loads(record.read_text())["sha256"] == sha256_of(library)
    assert library.stat().st_size > 1000
    np.testing.assert_allclose(predictor.predict(X), model.predict_proba(X)[:, 1], atol=1e-12)


def _other_library(tmp_path: Path, X: pd.DataFrame) -> bytes:
    """A complete library compiled from another model with the same features."""
    y = (X["f5"].fillna(0) > 0).astype(int)
    other = LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    where = tmp_path / "other"
    where.mkdir()
    compiled.predictor_for(other, _artifact(where))
    return (where / LIBRARY).read_bytes()


# Each leaves a library whose record matches it (or an unreadable record): before issue 15
# a truncated library aborted every later score (LLVM: exit 134), an empty one crashed it
# (SIGSEGV), an empty record fell back to LightGBM on every run, another model's library
# was used until its first batch disagreed, on every run.
BAD_CACHES = {
    "truncated": (lambda good, other: good[: len(good) // 2], True, "incomplete"),
    "empty": (lambda good, other: b"", True, "incomplete (0 bytes)"),
    "empty record": (lambda good, other: good, False, "unreadable record"),
    "another model's": (lambda good, other: other, True, "disagrees with LightGBM"),
}

_CHILD = textwrap.dedent(
    """
    import json, logging, sys
    from pathlib import Path
    import joblib, numpy as np
    from python_scoring.artifacts import Artifact
    from python_scoring.features import compiled

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    path = Path(sys.argv[1])
    model, X = joblib.load(path / "fitted.joblib")
    predictor = compiled.predictor_for(model, Artifact("m", "v1", path, {"sha256": sys.argv[2]}))
    worst = float(np.max(np.abs(predictor.predict(X) - model.predict_proba(X)[:, 1])))
    print(json.dumps({"method": predictor.method, "worst": worst}))
    """
)


@pytest.mark.parametrize("case", BAD_CACHES)
def test_bad_compiled_cache_is_recompiled_not_loaded(booster, tmp_path, case):
    """In a child process: a crash there (LLVM abort, SIGSEGV) fails the test, not pytest."""
    model, X = booster
    make_library, record_matches, reason = BAD_CACHES[case]
    compiled.predictor_for(model, _artifact(tmp_path))
    library, record = tmp_path / LIBRARY, tmp_path / RECORD
    good = library.read_bytes()
    bad = make_library(good, _other_library(tmp_path, X))
    library.write_bytes(bad)
    record.write_text(json.dumps({"sha256": sha256_of(library)}) if record_matches else "")
    joblib.dump((model, X), tmp_path / "fitted.joblib")

    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path), SHA],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr[-2000:]}"
    result = json.loads(child.stdout)
    assert result == {"method": "lleaves", "worst": pytest.approx(0, abs=1e-12)}
    assert reason in child.stderr and "compiling again" in child.stderr
    # the cache is whole again: recompiled (LLVM compiles the same bytes) and recorded
    assert library.read_bytes() == good
    assert json.loads(record.read_text())["sha256"] == sha256_of(library)


# --- a training set on an in-memory warehouse -------------------------------------------

MONTHS = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]).date


def training_set(n: int = 600, seed: int = 7) -> pd.DataFrame:
    """n subscribers x 4 months: three in-time months (a quarter of the ids test), the last
    out-of-time; churn driven by usage and plan."""
    rng = np.random.default_rng(seed)
    rows = []
    for month in MONTHS:
        usage = rng.gamma(2.0, 50.0, n)
        plan = rng.choice(["basic", "plus", "max"], n)
        risk = -usage / 60 + (plan == "basic") + rng.normal(scale=0.7, size=n)
        ids = np.arange(1, n + 1)
        rows.append(
            pd.DataFrame(
                {
                    "subscriber_id": ids,
                    "month": month,
                    "usage": usage,
                    "tenure": rng.integers(0, 60, n),
                    "plan": plan,
                    "churned": (risk > np.quantile(risk, 0.8)).astype(int),
                    "split": np.where(
                        month == MONTHS[-1], "oot", np.where(ids % 4 == 0, "test", "train")
                    ),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


class _Project:
    """What train_model reads of a Project: the training set's relation, the artifacts,
    the sources' classification (none here)."""

    manifest: dict = {"sources": {}}

    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir

    def model(self, name: str) -> Relation:
        return Relation(None, "ml", name)


SPEC = ModelSpec(
    name="fault_model",
    scenario="churn",
    entity_id="subscriber_id",
    label="churned",
    training_set="fault_training_set",
    scoring_input="fault_scoring_input",
    params={"n_estimators": 20},
    train_months=3,
)


@pytest.fixture
def trainer(tmp_path, monkeypatch):
    """train_model on a DuckDB training set made of `rows` (recording the run, which needs
    the ml tables of a built warehouse, is left out)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(train, "record_run", lambda *args: None)
    wh = DuckDBWarehouse({"type": "duckdb", "path": ":memory:"})
    wh.con.execute("create schema ml")

    def run(rows: pd.DataFrame, select: str = "*", **changes):
        wh.con.register("rows", rows)
        table = f"ml.{SPEC.training_set}"
        wh.con.execute(f"create or replace table {table} as select {select} from rows")
        spec = dataclasses.replace(SPEC, **changes)
        return train.train_model(_Project(tmp_path / "artifacts"), wh, spec)

    yield run
    wh.close()


def _duplicated(rows: pd.DataFrame, how: str) -> pd.DataFrame:
    """Two (id, month) pairs on two rows each: subscriber 17 in February, 230 in April."""
    first = rows[(rows.subscriber_id == 17) & (rows.month == MONTHS[1])]
    second = rows[(rows.subscriber_id == 230) & (rows.month == MONTHS[3])].copy()
    if how == "conflicting label":
        second["churned"] = 1 - second["churned"]
    return pd.concat([rows, first, second], ignore_index=True)


@pytest.mark.parametrize("how", ["copied rows", "conflicting label"])
def test_duplicate_id_month_rows_are_refused_in_training(trainer, how):
    with pytest.raises(ScorehouseError) as refused:
        trainer(_duplicated(training_set(), how))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("ml.fault_training_set has 2 (subscriber_id, month) pair(s)")
    assert "e.g. subscriber_id 17 in 2025-02-01" in message
    assert "one row per subscriber_id and month" in message


def test_without_duplicates_training_goes_on(trainer):
    result = trainer(training_set())
    assert result.metrics["oot"]["rows"] == 600 and result.metrics["oot"]["auc"] > 0.7


@pytest.mark.parametrize(
    ("select", "column"),
    [
        ("*, cast(null as varchar) as note", "note"),  # a text column nobody filled
        ("*, null as note", "note"),  # untyped: DuckDB's NULL type
        ("* replace (cast(null as varchar) as plan)", "plan"),  # a feature emptied
    ],
)
@pytest.mark.parametrize("algorithm", ["lightgbm", "logistic_regression"])
def test_all_null_text_feature_is_dropped_with_a_log_line(
    trainer, caplog, select, column, algorithm
):
    params = {"n_estimators": 20} if algorithm == "lightgbm" else {}
    with caplog.at_level(logging.INFO):
        result = trainer(training_set(), select, algorithm=algorithm, params=params)
    meta = result.artifact.metadata
    assert column not in meta["features"]
    assert column not in meta["candidates"]["numeric"] + meta["candidates"]["categorical"]
    assert {"usage", "tenure"} <= set(meta["features"])
    assert f"'{column}' is null on every row" in caplog.text
    assert result.metrics["oot"]["auc"] > 0.7


# --- misspelt estimator parameters ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "suggestion"),
    [
        ({"params": {"n_estimator": 50, "learing_rate": 0.1}}, "n_estimator", "n_estimators"),
        ({"params": {"n_estimators": 50, "learing_rate": 0.1}}, "learing_rate", "learning_rate"),
        ({"params": {"num_leafs": 7}}, "num_leafs", "num_leaves"),
        (
            {"algorithm": "random_forest", "params": {"min_sample_leaf": 5}},
            "min_sample_leaf",
            "min_samples_leaf",
        ),
        (
            {"algorithm": "logistic_regression", "params": {"max_iters": 100}},
            "max_iters",
            "max_iter",
        ),
        (
            {"search": {"space": {"min_child_sample": [20, 50]}}},
            "min_child_sample",
            "min_child_samples",
        ),
    ],
)
def test_misspelt_estimator_params_are_refused_with_a_suggestion(changes, key, suggestion):
    with pytest.raises(ScorehouseError) as refused:
        load_registry(FakeProject([exposure(**changes)]))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("registry exposure 'churn_lgbm': ")
    assert f"'{key}'" in message and f"did you mean '{suggestion}'?" in message


# --- a feature's type switches between training and scoring -----------------------------


@pytest.fixture(scope="module")
def trained_pipelines():
    rows = training_set()
    frame = to_pandas(pa.Table.from_pandas(rows, preserve_index=False))
    y = frame["churned"]
    numeric, categorical = split_feature_types(frame, ["plan", "tenure", "usage"])
    fitted = {}
    for name, changes in {
        "lightgbm": {},
        "logistic_regression": {"algorithm": "logistic_regression", "params": {}},
        "pairwise": {"pairwise": Pairwise(top_k=2), "iv_limit": 0.001},
    }.items():
        spec = dataclasses.replace(SPEC, **changes)
        fitted[name] = build_pipeline(spec).fit(frame[numeric + categorical], y)
    return fitted, frame[numeric + categorical]


def _as_warehouse_gives(frame: pd.DataFrame) -> pd.DataFrame:
    return to_pandas(pa.Table.from_pandas(frame, preserve_index=False))


@pytest.mark.parametrize("variant", ["lightgbm", "logistic_regression", "pairwise"])
@pytest.mark.parametrize(
    ("column", "switched", "was", "now"),
    [
        ("tenure", lambda s: s.astype(str), "numeric", "text (str)"),
        ("plan", lambda s: s.map({"basic": 1, "plus": 2, "max": 3}), "text", "numeric (int64)"),
    ],
)
def test_type_switch_between_training_and_scoring_names_the_column(
    trained_pipelines, variant, column, switched, was, now
):
    """Before issue 15: LightGBM's or scikit-learn's traceback, the column unnamed (or a
    TypeError from numpy deep in the encoder)."""
    pipelines, frame = trained_pipelines
    scoring = frame.head(50).copy()
    scoring[column] = switched(scoring[column])
    with pytest.raises(ScorehouseError) as refused:
        model_input(pipelines[variant], _as_warehouse_gives(scoring))
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"feature column '{column}' was {was} in training and is {now} in the scoring input: "
        f"cast it back to {was} in the dbt model, or retrain the model"
    )
