"""Optional MLflow logging of training runs.

Active only when MLFLOW_TRACKING_URI is set *and* mlflow is importable (`pip install
python_scoring[mlflow]`); scorehouse never depends on it. The warehouse tables
(ml.training_runs, ml.model_metrics) and the artifact directory stay the record of
truth; MLflow gets a copy for teams that browse runs there.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from typing import Any

log = logging.getLogger(__name__)
EXPERIMENT = "scorehouse"


def _mlflow() -> Any | None:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    if importlib.util.find_spec("mlflow") is None:
        log.warning("MLFLOW_TRACKING_URI is set but mlflow is not installed: not logging to it")
        return None
    return importlib.import_module("mlflow")


def log_training_run(spec: Any, artifact: Any, results: dict[str, dict[str, float]]) -> bool:
    """Log params, metrics (split_metric) and the artifact directory; True if logged."""
    mlflow = _mlflow()
    if mlflow is None:
        return False
    mlflow.set_experiment(EXPERIMENT)
    meta = artifact.metadata
    with mlflow.start_run(run_name=f"{spec.name}-{artifact.version}"):
        mlflow.set_tags(
            {
                "model_name": spec.name,
                "model_version": artifact.version,
                "scenario": spec.scenario,
                "artifact_sha256": artifact.digest,
            }
        )
        params = {f"model.{k}": v for k, v in meta["params"].items() if v is not None}
        params.update(
            algorithm=spec.algorithm,
            imbalance=spec.imbalance,
            train_months=",".join(meta["train_months"]),
            oot_month=meta["oot_month"],
            sample_fraction=meta["sample_fraction"],
        )
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(
            {
                f"{split}_{name}": float(value)
                for split, m in results.items()
                for name, value in m.items()
            }
        )
        mlflow.log_artifacts(str(artifact.path), artifact_path="model")
    log.info("%s: logged to MLflow at %s", spec.name, os.environ["MLFLOW_TRACKING_URI"])
    return True
