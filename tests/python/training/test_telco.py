"""Training defaults, `search: auto`, an empty test split and `scorehouse evaluate` on the
real IBM Telco Customer Churn file (7,043 customers), through the training code on an
in-memory DuckDB warehouse (no dbt): the file staged as a scaffold would (snake_case
names, blank TotalCharges null, Churn Yes -> churned 1), every row in split 'train', a
snapshot model evaluated by 5-fold cross-validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from python_scoring import artifacts, contract
from python_scoring.cli import _READ_THE_MANIFEST, _commands, _parser
from python_scoring.errors import ScorehouseError
from python_scoring.features.blend import ProbabilityBlend
from python_scoring.features.boosting import EarlyStoppedLGBMClassifier
from python_scoring.features.pipeline import early_stopped, split_feature_types
from python_scoring.jobs.steps import evaluate_on
from python_scoring.load import snake_case
from python_scoring.project import Relation
from python_scoring.registry import ModelSpec, Search
from python_scoring.training import train
from python_scoring.training.fit import cross_validate, fit_function
from python_scoring.training.search import candidates
from python_scoring.warehouse._duckdb import DuckDBWarehouse

from ..conftest import REPO

TELCO_CSV = REPO.parent / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv"
SPEC = ModelSpec(
    name="telco_churn",
    scenario="churn",
    entity_id="customer_id",
    label="churned",
    training_set="telco",
    scoring_input="telco",
    out_of_time=False,
    cv_folds=5,
    label_lag_months=0,
    train_months=1,
)
AUTO_BUDGET_SECONDS = 60  # the whole run: the final selection and the 5 folds' share it


def staged() -> pd.DataFrame:
    assert TELCO_CSV.is_file(), f"{TELCO_CSV} is missing (CI has ../shared beside the clone)"
    rows = pd.read_csv(TELCO_CSV)
    rows.columns = [snake_case(c) for c in rows.columns]
    rows["total_charges"] = pd.to_numeric(rows["total_charges"].str.strip().replace("", None))
    rows["churned"] = (rows.pop("churn") == "Yes").astype(int)
    rows["month"] = dt.date(2024, 1, 1)
    rows["split"] = "train"
    return rows


class _Project:
    """What training and evaluation read of a Project: relations of schema ml, artifacts."""

    manifest = {"sources": {}}

    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir

    def model(self, name: str) -> Relation:
        return Relation(None, "ml", name)

    def source(self, source: str, table: str) -> Relation:
        return Relation(None, source, table)


@pytest.fixture(scope="module")
def telco():
    return staged()


@pytest.fixture(scope="module")
def warehouse(telco, tmp_path_factory):
    """ml.telco (every row), ml.telco_fit (80 % by id) and ml.telco_holdout (the rest) and
    the ml tables a training run writes, in an in-memory DuckDB."""
    wh = DuckDBWarehouse({"type": "duckdb", "path": ":memory:"})
    wh.con.execute("create schema ml")
    holdout = telco["customer_id"].map(hash) % 5 == 0
    for name, rows in {
        "telco": telco,
        "telco_fit": telco[~holdout],
        "telco_holdout": telco[holdout],
    }.items():
        wh.con.register("rows", rows)
        wh.con.execute(f"create table ml.{name} as select * from rows")
        wh.con.unregister("rows")
    for name in ("training_runs", "model_metrics", "model_curves", "score_baselines"):
        wh.con.register("empty", contract.schema(name).empty_table())
        wh.con.execute(f"create table ml.{name} as select * from empty")
        wh.con.unregister("empty")
    project = _Project(tmp_path_factory.mktemp("artifacts"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield project, wh
    wh.close()


def rows(wh, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def evaluate_model(project, wh, spec, on: str, name: str | None = None):
    """What `scorehouse evaluate` does (jobs/steps.py evaluate_on), on this warehouse."""
    return evaluate_on(project, wh, spec, on, name)


def test_default_lightgbm_reaches_0845_cross_validated(telco):
    """The training code's fit and cross-validation, called on the frame directly."""
    numeric, categorical = split_feature_types(
        telco, sorted(set(telco.columns) - SPEC.non_features)
    )
    X, y, ids = telco[numeric + categorical], telco["churned"], telco["customer_id"].to_numpy()
    assert early_stopped(SPEC)  # no params: the early-stopped recipe
    cv, searches = cross_validate(SPEC, fit_function(SPEC), X, y, ids)
    assert cv["auc"] >= 0.845, cv
    assert cv["rows"] == 7043 and searches == []
    old = dataclasses.replace(
        SPEC,
        params={"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31},
        imbalance="class_weight",
    )
    old_cv, _ = cross_validate(old, fit_function(old), X, y, ids)
    # the former default (300 x 31 leaves, balanced weights): 0.833
    assert cv["auc"] > old_cv["auc"] + 0.01, (cv["auc"], old_cv["auc"])


@pytest.fixture(scope="module")
def default_run(warehouse):
    project, wh = warehouse
    return train.train_model(project, wh, SPEC)


def test_empty_test_split_fits_on_every_row(warehouse, default_run):
    _, wh = warehouse
    metrics = default_run.metrics
    assert metrics["train"]["rows"] == 7043 and metrics["cv"]["rows"] == 7043
    assert "test" not in metrics and "oot" not in metrics
    assert metrics["cv"]["auc"] >= 0.845
    version = default_run.artifact.version
    recorded = dict(
        rows(
            wh,
            "select split || '/' || metric, value from ml.model_metrics where metric in "
            f"('rows', 'auc') and model_version = '{version}'",
        )
    )
    assert recorded == {
        "train/rows": 7043,
        "train/auc": pytest.approx(metrics["train"]["auc"]),
        "cv/rows": 7043,
        "cv/auc": pytest.approx(metrics["cv"]["auc"]),
    }
    assert rows(
        wh,
        "select algorithm, rows_train, rows_test, auc_test, cv_auc from ml.training_runs "
        f"where model_version = '{version}'",
    ) == [("lightgbm", 7043, None, None, pytest.approx(metrics["cv"]["auc"]))]


def test_the_chosen_number_of_trees_is_recorded(default_run):
    meta = default_run.artifact.metadata
    model = joblib.load(default_run.artifact.path / artifacts.MODEL_FILE).named_steps["model"]
    assert isinstance(model, EarlyStoppedLGBMClassifier)
    assert (
        meta["params"]["n_estimators_chosen"] == model.booster_.num_trees() == model.n_estimators_
    )
    assert 50 <= meta["params"]["n_estimators_chosen"] <= 1000
    assert meta["params"]["num_leaves_chosen"] == 7 and meta["params"]["num_leaves"] is None


def test_empty_test_split_without_cv_or_out_of_time_is_refused(warehouse):
    project, wh = warehouse
    with pytest.raises(ScorehouseError) as refused:
        train.train_model(project, wh, dataclasses.replace(SPEC, name="no_eval", cv_folds=0))
    message = str(refused.value)
    assert "split 'test' is empty" in message and "set cv_folds: 5" in message
    assert "\n" not in message


def test_a_test_split_of_one_class_is_still_refused(warehouse, telco):
    project, wh = warehouse
    rows_ = telco.copy()
    rows_.loc[rows_.index[:50], "split"] = "test"
    rows_.loc[rows_.index[:50], "churned"] = 0
    wh.con.register("rows", rows_)
    wh.con.execute("create or replace table ml.telco_one_class as select * from rows")
    wh.con.unregister("rows")
    spec = dataclasses.replace(SPEC, name="one_class", training_set="telco_one_class")
    with pytest.raises(ScorehouseError, match="split 'test' has a single label class"):
        train.train_model(project, wh, spec)


def test_search_auto_beats_0850_nested_within_its_budget(warehouse):
    project, wh = warehouse
    spec = dataclasses.replace(
        SPEC,
        name="telco_auto",
        search=Search(space={}, auto=True),
        search_budget_seconds=AUTO_BUDGET_SECONDS,
    )
    clock = time.perf_counter()
    result = train.train_model(project, wh, spec)
    seconds = time.perf_counter() - clock
    assert result.metrics["cv"]["auc"] >= 0.850, result.metrics["cv"]
    assert seconds < 90, seconds
    meta = result.artifact.metadata
    search = meta["search"]
    families = set(candidates(spec))
    assert set(search["candidates"]) <= families | {"blend"}
    assert search["budget_seconds"] == pytest.approx(AUTO_BUDGET_SECONDS / 6)
    assert search["chosen"] == meta["algorithm"]
    assert search["best_score"] == pytest.approx(max(search["candidates"].values()), abs=1e-6)
    # nested: every outer fold ran its own selection on its own rows
    outer = search["outer_folds"]
    assert [fold["fold"] for fold in outer] == [1, 2, 3, 4, 5]
    scores = [tuple(sorted(fold["candidates"].items())) for fold in outer]
    assert len(set(scores)) == 5 and tuple(sorted(search["candidates"].items())) not in scores
    assert all(fold["seconds"] > 0 and "lightgbm" in fold["candidates"] for fold in outer)
    assert np.mean([fold["auc"] for fold in outer]) == pytest.approx(result.metrics["cv"]["auc"])
    model = joblib.load(result.artifact.path / artifacts.MODEL_FILE).named_steps["model"]
    assert isinstance(model, ProbabilityBlend) == search["chosen"].startswith("blend(")
    recorded = rows(
        wh,
        f"select algorithm from ml.training_runs where model_version = '{result.artifact.version}'",
    )
    assert recorded == [(search["chosen"],)]


def test_randomized_search_is_nested_too(warehouse):
    project, wh = warehouse
    space = {"num_leaves": [3, 7], "n_estimators": [40, 80]}
    spec = dataclasses.replace(SPEC, name="telco_space", search=Search(space=space, n_iter=2, cv=2))
    result = train.train_model(project, wh, spec)
    outer = result.artifact.metadata["search"]["outer_folds"]
    assert len(outer) == 5
    for fold in outer:
        assert fold["best_params"]["model__num_leaves"] in (3, 7)
        assert 0.8 < fold["best_score"] < 0.9 and fold["mode"] == "space"
    assert len({fold["best_score"] for fold in outer}) == 5  # five searches, five scores


@pytest.fixture(scope="module")
def fitted_on_80(warehouse, telco, tmp_path_factory):
    """The default model trained on ml.telco_fit; the holdout as a file as users have it
    (blank total charges as text, the label as true/false)."""
    project, wh = warehouse
    spec = dataclasses.replace(SPEC, name="telco_fit", training_set="telco_fit", cv_folds=2)
    result = train.train_model(project, wh, spec)
    holdout = wh.con.execute("select * from ml.telco_holdout").df()
    file = tmp_path_factory.mktemp("files") / "holdout.csv"
    written = holdout.drop(columns=["month", "split"])
    written["total_charges"] = written["total_charges"].map(lambda v: "" if pd.isna(v) else v)
    written["churned"] = written["churned"].map({1: "true", 0: "false"})
    written.to_csv(file, index=False)
    return spec, result, holdout, file


def test_evaluate_on_a_file_records_the_auc_of_the_artifacts_predictions(warehouse, fitted_on_80):
    project, wh = warehouse
    spec, trained, holdout, file = fitted_on_80
    result = evaluate_model(project, wh, spec, str(file))
    # by hand: the artifact's pipeline on the holdout rows as the warehouse holds them
    pipeline = joblib.load(trained.artifact.path / artifacts.MODEL_FILE)
    features = trained.artifact.metadata["features"]
    expected = roc_auc_score(holdout["churned"], pipeline.predict_proba(holdout[features])[:, 1])
    assert result.version == trained.artifact.version
    assert result.split == "evaluate:holdout"
    assert result.metrics["auc"] == pytest.approx(expected, abs=1e-12)
    assert result.metrics["rows"] == len(holdout) and 1000 < len(holdout) < 2000
    assert 0.80 < expected < 0.90
    recorded = dict(
        rows(
            wh,
            "select metric, value from ml.model_metrics where split = 'evaluate:holdout' "
            f"and model_name = '{spec.name}' and model_version = '{trained.artifact.version}'",
        )
    )
    assert recorded["auc"] == pytest.approx(expected, abs=1e-12)
    assert recorded["rows"] == len(holdout)
    assert recorded["positive_rate"] == pytest.approx(holdout["churned"].mean())


def test_evaluate_on_a_relation_gives_the_files_figures(warehouse, fitted_on_80):
    project, wh = warehouse
    spec, _, _, file = fitted_on_80
    from_file = evaluate_model(project, wh, spec, str(file), name="file")
    from_table = evaluate_model(project, wh, spec, "ml.telco_holdout", name="table")
    assert from_table.split == "evaluate:table"
    assert from_table.metrics["auc"] == pytest.approx(from_file.metrics["auc"], abs=1e-12)
    assert from_table.metrics["lift_top10"] == pytest.approx(from_file.metrics["lift_top10"])


def test_evaluate_names_the_missing_columns(warehouse, fitted_on_80, tmp_path):
    project, wh = warehouse
    spec, _, holdout, _ = fitted_on_80
    lacking = tmp_path / "lacking.csv"
    holdout.drop(columns=["tenure", "churned"]).to_csv(lacking, index=False)
    with pytest.raises(ScorehouseError) as refused:
        evaluate_model(project, wh, spec, str(lacking))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{lacking} lacks the feature column(s) tenure and the label")
    assert "label column churned of model 'telco_fit'" in message
    with pytest.raises(ScorehouseError, match="neither a dbt source table"):
        evaluate_model(project, wh, spec, "ml.no_such_table")


def test_evaluate_is_a_command_that_reads_the_manifest():
    args = _parser().parse_args(["evaluate", "--model", "m", "--on", "a.csv", "--name", "n"])
    assert (args.command, args.model, args.on, args.name) == ("evaluate", "m", "a.csv", "n")
    assert "evaluate" in _commands() and "evaluate" in _READ_THE_MANIFEST
