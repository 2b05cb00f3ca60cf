"""`scorehouse clean --keep N` on a built warehouse."""

from __future__ import annotations

import os
import shutil
import time

import duckdb
import pytest
from sklearn.dummy import DummyClassifier

from python_scoring import artifacts

pytestmark = pytest.mark.e2e


def _train_stand_in(warehouse, model: str) -> str:
    """A version saved and recorded in ml.training_runs, as `train` leaves it."""
    artifact = artifacts.save(
        warehouse.root / "artifacts", model, DummyClassifier(), {"features": []}
    )
    with duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        con.execute(
            "insert into ml.training_runs (run_id, model_name, model_version, artifact_sha256) "
            "values (?, ?, ?, ?)",
            [f"clean-test-{artifact.version}", model, artifact.version, artifact.digest],
        )
    return artifact.version


def test_clean_keeps_newest_and_the_version_that_scored(warehouse, capsys):
    root = warehouse.root / "artifacts"
    scoring_version = artifacts.versions(root, "churn_lgbm")[-1]  # wrote the latest month
    newer = []
    crashed = root / "churn_lgbm" / ".tmp-v-crashed"
    try:
        newer += [_train_stand_in(warehouse, "churn_lgbm") for _ in range(3)]
        crashed.mkdir()
        stamp = time.time() - 7200  # an interrupted save two hours ago
        os.utime(crashed, (stamp, stamp))
        assert warehouse.scorehouse("clean", "--keep", "1", "--model", "churn_lgbm") == 0
        assert artifacts.versions(root, "churn_lgbm") == [scoring_version, newer[-1]]
    finally:  # leave the warehouse as other tests expect it: the trained version newest
        for version in newer:
            shutil.rmtree(root / "churn_lgbm" / version, ignore_errors=True)
        with duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
            con.execute("delete from ml.training_runs where run_id like 'clean-test-%'")
    assert not crashed.exists()
    out = capsys.readouterr().out
    assert "churn_lgbm: deleted 3 (kept the newest 1 recorded in ml.training_runs" in out
    assert "1 of them unrecorded leftover of an interrupted train" in out
    # the other models were not touched
    assert len(artifacts.versions(root, "data_addon_scorecard")) == 1

    assert warehouse.scorehouse("clean", "--keep", "0") == 2
    assert "--keep must be at least 1" in capsys.readouterr().err
