"""`scorehouse clean --keep N` on a built warehouse."""

from __future__ import annotations

import shutil

import pytest
from sklearn.dummy import DummyClassifier

from python_scoring import artifacts

pytestmark = pytest.mark.e2e


def test_clean_keeps_newest_and_the_version_that_scored(warehouse, capsys):
    root = warehouse.root / "artifacts"
    scoring_version = artifacts.versions(root, "churn_lgbm")[-1]  # wrote the latest month
    newer = [
        artifacts.save(root, "churn_lgbm", DummyClassifier(), {"features": []}).version
        for _ in range(3)
    ]
    (root / "churn_lgbm" / ".tmp-v-crashed").mkdir()

    try:
        assert warehouse.scorehouse("clean", "--keep", "1", "--model", "churn_lgbm") == 0
        assert artifacts.versions(root, "churn_lgbm") == [scoring_version, newer[-1]]
    finally:  # leave the warehouse as other tests expect it: the trained version newest
        for version in newer:
            shutil.rmtree(root / "churn_lgbm" / version, ignore_errors=True)
    assert not (root / "churn_lgbm" / ".tmp-v-crashed").exists()
    assert "churn_lgbm: deleted 3" in capsys.readouterr().out
    # the other models were not touched
    assert len(artifacts.versions(root, "data_addon_scorecard")) == 1

    assert warehouse.scorehouse("clean", "--keep", "0") == 2
    assert "--keep must be at least 1" in capsys.readouterr().err
