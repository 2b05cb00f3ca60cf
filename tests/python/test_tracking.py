"""MLflow logging is optional: off without MLFLOW_TRACKING_URI, a warning without mlflow,
and params/metrics/artifact logged through mlflow's API when both are there (a recording
stand-in for the mlflow module: the package is an optional extra, not installed in CI)."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from python_scoring import tracking


@dataclass
class FakeArtifact:
    path: Path
    version: str = "v1"
    sha256: str = "ab" * 32
    digest: str = "cd" * 32

    @property
    def metadata(self):
        return {
            "params": {"n_estimators": 10, "max_depth": None},
            "train_months": ["2025-01-01", "2025-02-01"],
            "oot_month": "2025-03-01",
            "sample_fraction": 1.0,
        }


@dataclass
class FakeSpec:
    name: str = "churn_lgbm"
    scenario: str = "churn"
    algorithm: str = "lightgbm"
    imbalance: str = "class_weight"


RESULTS = {"oot": {"auc": 0.81, "ks": 0.5}, "train": {"auc": 0.9, "ks": 0.6}}


def test_off_without_tracking_uri(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.log_training_run(FakeSpec(), FakeArtifact(tmp_path), RESULTS) is False


def test_warns_when_mlflow_is_missing(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path / "mlruns"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert tracking.log_training_run(FakeSpec(), FakeArtifact(tmp_path), RESULTS) is False
    assert "mlflow is not installed" in caplog.text


def test_logs_params_metrics_and_artifact(monkeypatch, tmp_path):
    calls: dict[str, object] = {}
    fake = types.ModuleType("mlflow")
    fake.set_experiment = lambda name: calls.setdefault("experiment", name)
    fake.start_run = lambda run_name: (calls.setdefault("run", run_name), contextlib.nullcontext())[
        1
    ]
    fake.set_tags = lambda tags: calls.setdefault("tags", tags)
    fake.log_params = lambda params: calls.setdefault("params", params)
    fake.log_metrics = lambda metrics: calls.setdefault("metrics", metrics)
    fake.log_artifacts = lambda path, artifact_path: calls.setdefault(
        "artifacts", (path, artifact_path)
    )
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking.log_training_run(FakeSpec(), FakeArtifact(tmp_path), RESULTS) is True
    assert calls["experiment"] == "scorehouse" and calls["run"] == "churn_lgbm-v1"
    assert (
        calls["params"]["model.n_estimators"] == "10" and "model.max_depth" not in calls["params"]
    )
    assert calls["params"]["oot_month"] == "2025-03-01"
    assert calls["metrics"] == {"oot_auc": 0.81, "oot_ks": 0.5, "train_auc": 0.9, "train_ks": 0.6}
    assert calls["artifacts"] == (str(tmp_path), "model")
    assert calls["tags"]["artifact_sha256"] == "cd" * 32  # the digest ml.training_runs records


@pytest.mark.parametrize("value", ["", None])
def test_empty_uri_is_off(monkeypatch, tmp_path, value):
    if value is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", value)
    assert tracking._mlflow() is None
