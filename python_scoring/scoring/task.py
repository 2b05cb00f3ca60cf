"""Scoring a batch, the same code on every engine: a verified artifact's pipeline,
predictor and reason attribution (`ScoringModel`) and the picklable task Spark ships to
its executors (`ScoringTask`), which loads and verifies the artifact once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from python_scoring import artifacts, contract
from python_scoring.features.compiled import Predictor, predictor_for
from python_scoring.features.pipeline import feature_names, model_input
from python_scoring.features.reasons import attribution_for, top_reasons
from python_scoring.warehouse import to_pandas


@dataclass(frozen=True)
class ScoringModel:
    """What scoring a batch needs from a verified artifact."""

    features: list[str]
    entity_id: str
    pipeline: Any
    predictor: Predictor
    attribution: Any  # None: no reasons
    names: list[str]  # columns the estimator sees (reason labels)
    n_reasons: int


@functools.cache
def _types(n_reasons: int) -> dict[str, pa.DataType]:
    """The staging table's column types: ml.model_scores' and the piece columns."""
    schemas = (contract.model_scores_schema(n_reasons), contract.PIECE_SCHEMA)
    return {field.name: field.type for schema in schemas for field in schema}


def scored_table(frame, model: ScoringModel, constants: dict[str, Any]) -> pa.Table:
    """One batch of the scoring input -> rows of ml.model_scores (plus `constants`, the
    columns equal on every row): transform, predict, and the top reasons."""
    transformed = model_input(model.pipeline, frame[model.features])
    n = len(frame)
    types = _types(model.n_reasons)
    result = {
        name: pa.array(np.full(n, value), types.get(name)) for name, value in constants.items()
    }
    result["entity_id"] = pa.array(
        frame[model.entity_id].astype(str).to_numpy(), types["entity_id"]
    )
    result["score"] = pa.array(model.predictor.predict(transformed), types["score"])
    if model.attribution is not None and model.n_reasons:
        contributions = model.attribution.contributions(transformed)
        reasons = top_reasons(contributions, model.names, model.n_reasons)
        # fewer reasons than asked when the model has fewer features
        for name, reason in zip(contract.reason_columns(len(reasons)), reasons, strict=True):
            result[name] = pa.array(reason, types[name])
    return pa.table(result)


# Scoring models loaded in this process, by artifact (dir, model, version, digest): a Spark
# executor's Python worker loads and verifies an artifact once, not once per batch.
_LOADED: dict[tuple[str, str, str, str], ScoringModel] = {}


@dataclass(frozen=True)
class ScoringTask:
    """Scoring of one piece, as a picklable callable (Spark ships it to its executors):
    the artifact is named by version and the digest ml.training_runs recorded for it,
    loaded and verified against that digest (before anything is unpickled) in the process
    that runs it, once."""

    artifacts_dir: str
    model_name: str
    version: str
    digest: str
    entity_id: str
    n_reasons: int
    compile_trees: bool
    constants: dict[str, Any]

    def model(self) -> ScoringModel:
        key = (self.artifacts_dir, self.model_name, self.version, self.digest)
        if key not in _LOADED:
            artifact, pipeline = artifacts.load(
                Path(self.artifacts_dir), self.model_name, self.version, expected=self.digest
            )
            self.keep(artifact, pipeline)
        return _LOADED[key]

    def keep(self, artifact: artifacts.Artifact, pipeline: Any) -> None:
        """Hold an artifact verified here as this process's scoring model."""
        estimator = pipeline.named_steps["model"]
        _LOADED[(self.artifacts_dir, self.model_name, self.version, self.digest)] = ScoringModel(
            artifact.metadata["features"],
            self.entity_id,
            pipeline,
            predictor_for(estimator, artifact, self.compile_trees),
            attribution_for(estimator) if self.n_reasons else None,
            feature_names(pipeline),
            self.n_reasons,
        )

    def __call__(self, frame) -> pa.Table:
        return scored_table(frame, self.model(), self.constants)

    def columns(self) -> list[str]:
        """The columns `__call__` returns (scored_table's)."""
        return [*self.constants, "entity_id", "score", *contract.reason_columns(self.n_reasons)]

    def map_batches(self, batches):
        """mapInArrow's form (Spark executors): Arrow batches in, converted to pandas the
        way every engine's rows are (same types, same scores), Arrow batches out."""
        for batch in batches:
            yield from self(to_pandas(batch)).to_batches()
