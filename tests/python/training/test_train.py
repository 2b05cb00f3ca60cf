"""Training options on the session warehouse: memory guard, search, out-of-time override,
and the printed report against ml.model_metrics. Runs use their own model names, so the
registry models the other tests check keep their single run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re

import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.registry import Search, load_registry
from python_scoring.training import plan, report, train
from python_scoring.warehouse import Warehouse

from ..conftest import query
from ..features.test_metrics import CURVE_SIZES

pytestmark = pytest.mark.e2e
ENV = ("DBT_PROFILES_DIR", "SCOREHOUSE_DUCKDB_PATH", "SCOREHOUSE_ARTIFACTS", "SCOREHOUSE_TARGET")


@pytest.fixture
def trainer(warehouse, monkeypatch):
    for key in ENV:
        monkeypatch.setenv(key, warehouse.env[key])
    project = warehouse.project()
    base = dataclasses.replace(
        load_registry(project)["churn_lgbm"], params={"n_estimators": 40}, pairwise=None
    )

    def run(**changes):
        spec = dataclasses.replace(base, **changes)
        with Warehouse.connect(project) as wh:
            return train.train_model(project, wh, spec)

    return run


def full_counts(warehouse, months):
    listed = ", ".join(f"date '{m}'" for m in months)
    return dict(
        query(
            warehouse,
            "select split || '/' || churned, count(*) from ml.churn_training_set "
            f"where month in ({listed}) group by all",
        )
    )


def test_memory_guard_trains_on_a_stratified_sample(trainer, warehouse, caplog):
    first = trainer(name="churn_full")
    months = [*first.artifact.metadata["train_months"], first.artifact.metadata["oot_month"]]
    available = first.artifact.metadata["rows_available"]
    n_columns = len(query(warehouse, "describe ml.churn_training_set"))
    estimate_gb = available * n_columns * plan.PEAK_BYTES_PER_CELL / 1e9
    with caplog.at_level(logging.WARNING, logger="python_scoring.training.plan"):
        result = trainer(name="churn_sampled", memory_budget_gb=estimate_gb / 4)
    assert "stratified sample of 25.0% of the rows" in caplog.text
    meta = result.artifact.metadata
    assert meta["sample_fraction"] == pytest.approx(0.25)
    # every (split, label) stratum keeps ceil(25%) of its rows per month
    full = full_counts(warehouse, months)
    loaded = {
        f"{s}/1": result.metrics[s]["rows"] * result.metrics[s]["positive_rate"]
        for s in ("train", "test", "oot")
    }
    for key, value in loaded.items():
        assert value == pytest.approx(full[key] * 0.25, abs=len(months))
    run = query(
        warehouse,
        "select sample_fraction, rows_available, data_fingerprint from ml.training_runs "
        "where model_name = 'churn_sampled'",
    )
    assert run == [(pytest.approx(0.25), available, meta["data_fingerprint"])]
    assert meta["data_fingerprint"] != first.artifact.metadata["data_fingerprint"]


def test_memory_guard_without_sampling_stops_before_loading(trainer):
    with pytest.raises(ScorehouseError, match=r"over its memory_budget_gb 0\.001"):
        trainer(name="churn_refused", memory_budget_gb=0.001, sample_over_budget=False)


def test_search_picks_from_the_space_and_is_recorded(trainer, warehouse):
    space = {
        "num_leaves": [4, 8],
        "n_estimators": [20, 30],
        "learning_rate": {"low": 0.05, "high": 0.2, "log": True},
    }
    result = trainer(name="churn_searched", search=Search(space=space, n_iter=2, cv=2))
    search = result.artifact.metadata["search"]
    best = search["best_params"]
    assert best["model__num_leaves"] in (4, 8) and best["model__n_estimators"] in (20, 30)
    assert 0.05 <= best["model__learning_rate"] <= 0.2
    assert 0.6 < search["best_score"] < 1.0
    params = json.loads(
        query(warehouse, "select params from ml.training_runs where model_name = 'churn_searched'")[
            0
        ][0]
    )
    assert params["estimator"]["num_leaves"] == best["model__num_leaves"]


def test_oot_month_override(trainer):
    result = trainer(name="churn_backtest", oot_month=dt.date(2025, 7, 1), train_months=3)
    meta = result.artifact.metadata
    assert meta["oot_month"] == "2025-07-01"
    assert meta["train_months"] == ["2025-04-01", "2025-05-01", "2025-06-01"]


def test_printed_report_agrees_with_model_metrics(trainer, warehouse):
    result = trainer(name="churn_report")
    printed = report.format_metrics(result.metrics, 0.5)
    stored = {
        (split, metric): value
        for split, metric, value in query(
            warehouse,
            "select split, metric, value from ml.model_metrics "
            f"where model_version = '{result.artifact.version}'",
        )
    }
    lines = {line[:24].strip(): line[24:].split() for line in printed.splitlines()[1:]}
    for label, metric in (("AUC", "auc"), ("KS", "ks"), ("recall @ top 10%", "recall_top10")):
        for split, cell in zip(("train", "test", "oot"), lines[label], strict=True):
            assert float(cell) == pytest.approx(stored[(split, metric)], abs=5e-5)
    rows = [int(re.sub(",", "", c)) for c in lines["rows"]]
    assert rows == [stored[(s, "rows")] for s in ("train", "test", "oot")]


def test_training_records_the_curves_of_each_split(warehouse):
    """The session's churn_lgbm run: its curves in ml.model_curves under its run_id."""
    ((run_id, version),) = query(
        warehouse,
        "select run_id, model_version from ml.training_runs where model_name = 'churn_lgbm' "
        "order by finished_at desc limit 1",
    )
    points = query(
        warehouse,
        "select split, curve, point, x, y, model_version from ml.model_curves "
        f"where run_id = '{run_id}' order by split, curve, point",
    )
    curves: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for split, curve, point, x, y, stored_version in points:
        assert stored_version == version
        curves.setdefault((split, curve), []).append((point, x, y))
    assert {split for split, _ in curves} == {"train", "test", "oot"}
    ks = dict(
        query(
            warehouse,
            "select split, value from ml.model_metrics "
            f"where run_id = '{run_id}' and metric = 'ks'",
        )
    )
    for split in ("train", "test", "oot"):
        roc, gains = curves[(split, "roc")], curves[(split, "gains")]
        assert [p for p, _, _ in roc] == list(range(101))
        assert gains[-1][1:] == (1.0, 1.0)  # everything targeted captures every positive
        assert len(curves[(split, "calibration")]) == 10
        assert sum(y for _, _, y in curves[(split, "score_positive")]) == pytest.approx(1.0)
        gap = max(y for _, _, y in curves[(split, "ks")])
        assert gap == pytest.approx(ks[split], abs=0.02)
    # nothing recorded for the other runs' ids: every curve row belongs to a training run
    # or an evaluation (its own run_id, with split evaluate:NAME)
    orphans = query(
        warehouse,
        "select count(*) from ml.model_curves c left join ml.training_runs r "
        "on c.run_id = r.run_id where r.run_id is null and c.split not like 'evaluate:%'",
    )
    assert orphans == [(0,)]


def test_evaluate_command_on_a_dbt_model_and_its_refusal(warehouse, capsys):
    """`scorehouse evaluate` through the CLI: a dbt model's rows scored with the latest
    recorded version, printed and recorded under evaluate:NAME (its own run_id, so the
    training run's metrics stay as they were)."""
    argv = ["evaluate", "--model", "churn_lgbm", "--on", "churn_training_set", "--name", "all"]
    assert warehouse.scorehouse(*argv) == 0
    printed = capsys.readouterr().out
    ((version,),) = query(
        warehouse,
        "select max(model_version) from ml.training_runs where model_name = 'churn_lgbm'",
    )
    stored = dict(
        query(
            warehouse,
            "select metric, value from ml.model_metrics where split = 'evaluate:all' "
            f"and model_name = 'churn_lgbm' and model_version = '{version}'",
        )
    )
    ((rows,),) = query(warehouse, "select count(*) from ml.churn_training_set")
    assert stored["rows"] == rows
    assert printed.startswith(f"churn_lgbm {version} on all: AUC {stored['auc']:.4f} ")
    assert 0.7 < stored["auc"] < 1
    (runs,) = query(
        warehouse,
        "select count(distinct m.run_id), count(distinct r.run_id) from ml.model_metrics m "
        "left join ml.training_runs r on m.run_id = r.run_id where m.split = 'evaluate:all'",
    )
    assert runs == (1, 0)
    curves = dict(
        query(
            warehouse,
            "select c.curve, count(*) from ml.model_curves c join ml.model_metrics m "
            "on c.run_id = m.run_id and m.metric = 'auc' "
            "where c.split = 'evaluate:all' and m.split = 'evaluate:all' group by c.curve",
        )
    )
    assert curves == CURVE_SIZES
    missing = ["evaluate", "--model", "churn_lgbm", "--on", "churn_scoring_input"]
    assert warehouse.scorehouse(*missing) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "lacks the label column churned of model 'churn_lgbm'" in error[0]
