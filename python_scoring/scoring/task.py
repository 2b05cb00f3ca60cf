"""Scoring a batch, the same code on every engine: a verified artifact's pipeline,
predictor and reason attribution (`ScoringModel`) and the picklable task Spark ships to
its executors (`ScoringTask`), which loads and verifies the artifact once per process."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from python_scoring import artifacts, contract
from python_scoring.features.compiled import Predictor, predictor_for
from python_scoring.features.pipeline import feature_names, model_frames
from python_scoring.features.reasons import attribution_for, encoded_sources, top_contributions
from python_scoring.features.rowpath import Rows, RowTransform, verified_rows
from python_scoring.warehouse import to_pandas

# batches of at most this many rows go through the model's RowTransform, when it has one
# (features/rowpath.py: the pipeline compiled to numpy; the service's requests, up to
# 5,000 rows: 1 row ~0.1 ms instead of ~8 ms, 1,000 rows ~0.7 ms instead of ~8 ms plus
# ~16 ms of to_pandas); bigger ones through the pipeline, whose per-call cost they share
ROW_PATH_ROWS = 5_000
FEW_TEXTS = 192  # rows x reasons up to which Python writes the values' text (_texts)


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
    # per estimator column, the column before encoding whose value a reason shows
    # (encoded_sources; derived from the pipeline when not given)
    sources: tuple[str | None, ...] | None = None
    # the pipeline's transform compiled and verified for small batches (None: the pipeline)
    rows: RowTransform | None = None

    def __post_init__(self) -> None:
        if self.sources is None:
            prep = self.pipeline.named_steps["prep"]
            object.__setattr__(self, "sources", tuple(encoded_sources(prep, self.names)))


@functools.cache
def _types(n_reasons: int) -> dict[str, pa.DataType]:
    """The staging table's column types: ml.model_scores' and the piece columns."""
    schemas = (contract.model_scores_schema(n_reasons), contract.PIECE_SCHEMA)
    return {field.name: field.type for schema in schemas for field in schema}


def scoring_model(
    artifact: artifacts.Artifact,
    pipeline: Any,
    entity_id: str,
    n_reasons: int,
    compile_trees: bool,
    sample=None,
) -> ScoringModel:
    """The scoring model of an artifact verified by the caller. With `sample` (scoring-input
    rows: a pandas frame, or an Arrow table as the service receives rows), small batches
    use the pipeline's RowTransform once it is verified on those rows (verified_rows);
    without, every batch uses the pipeline."""
    estimator = pipeline.named_steps["model"]
    features = artifact.metadata["features"]
    return ScoringModel(
        features,
        entity_id,
        pipeline,
        predictor_for(estimator, artifact, compile_trees),
        attribution_for(estimator) if n_reasons else None,
        feature_names(pipeline),
        n_reasons,
        rows=None
        if sample is None
        else verified_rows(
            pipeline, sample.select(features) if isinstance(sample, pa.Table) else sample[features]
        ),
    )


@functools.lru_cache(maxsize=64)
def _value_columns(sources: tuple[str | None, ...], columns: tuple[str, ...]):
    """The columns whose values reasons show (sorted) and, per estimator column, the
    position of its source among them (-1: none)."""
    names = sorted({s for s in sources if s is not None and s in columns})
    where = {name: i for i, name in enumerate(names)}
    return names, np.array([where.get(s, -1) for s in sources], dtype=np.intp)


def _reason_values(before, sources: tuple[str | None, ...], top: np.ndarray, up: np.ndarray):
    """Rows x reasons (`top`: the estimator columns of each row's reasons): the row's
    value of the column each encodes as text (Arrow's cast: 62, 70.35,
    Month-to-month, true); None where there is no reason or the value is missing. Each
    column shown is converted once, only at the rows that show it."""
    names, code_of = _value_columns(sources, tuple(before.columns))
    codes = np.where(up, code_of[top], -1)  # rows x reasons
    out = np.full(codes.shape, None, dtype=object)
    if codes.size <= FEW_TEXTS and all(isinstance(before[n], np.ndarray) for n in names):
        for row, reason in zip(*np.nonzero(codes >= 0), strict=True):  # a request's rows
            column = before[names[codes[row, reason]]]
            out[row, reason] = _texts(column[row : row + 1])[0]
        return out
    for code in np.unique(codes[codes >= 0]):
        rows, reasons = np.nonzero(codes == code)
        picked = np.unique(rows)
        values = pa.array(before[names[code]], from_pandas=True)
        if len(picked) < len(values):
            values = values.take(pa.array(picked))
        text = pc.cast(values, pa.string()).to_numpy(zero_copy_only=False)
        out[rows, reasons] = text[np.searchsorted(picked, rows)]
    return out


def _texts(values: np.ndarray) -> np.ndarray:
    """Arrow's cast of a few values to text (as _reason_values casts them) without Arrow's
    ~15 us a call: numbers, booleans and text written as Arrow writes them, a missing
    value None; other types through Arrow itself."""
    kind = values.dtype.kind
    if values.dtype == np.float64:
        text = [None if v != v else _float_text(v) for v in values.tolist()]
    elif kind in "iu":
        text = [str(v) for v in values.tolist()]
    elif kind == "b":
        text = ["true" if v else "false" for v in values.tolist()]
    elif kind == "O" and all(type(v) is str or v is None or v != v for v in values.tolist()):
        text = [v if type(v) is str else None for v in values.tolist()]
    else:
        return pc.cast(pa.array(values, from_pandas=True), pa.string()).to_numpy(
            zero_copy_only=False
        )
    return np.array(text, dtype=object)


def _float_text(value: float) -> str:
    """A float64 as Arrow's cast writes it (double-conversion's shortest digits, as
    repr's, with the decimal point for exponents -6 .. 9, else 1.5e+10 / 1e-7)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")  # value = 0.<digits> x 10^point
    if not digits:
        return sign + "0"
    if -6 <= point - 1 < 10:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits))
        return f"{sign}{digits[:point]}.{digits[point:]}"
    fraction = f".{digits[1:]}" if len(digits) > 1 else ""
    return f"{sign}{digits[0]}{fraction}e{'+' if point > 0 else '-'}{abs(point - 1)}"


@dataclass(frozen=True)
class Scored:
    """A batch's scores and top reasons as arrays: what scored_table writes as Arrow, and
    the service answers as JSON without an Arrow round trip."""

    ids: np.ndarray  # the entity id as text
    scores: np.ndarray  # float64
    # rows x reasons (fewer than n_reasons when the model has fewer columns, none without
    # attribution): the estimator column, its value as text, its push, and whether it is
    # a reason (it pushes the score up); where `up` is False the three mean nothing
    labels: np.ndarray
    values: np.ndarray
    contributions: np.ndarray
    up: np.ndarray


def scored(frame, model: ScoringModel, reasons: int | None = None) -> Scored:
    """One batch of the scoring input -> its scores and top reasons: transform, predict,
    and each reason's feature, the row's value of that feature before encoding and its
    contribution. `frame` is pandas (warehouse.to_pandas), or for a few rows (the service)
    an Arrow table of the scoring input or a request's Rows: the RowTransform reads them
    as they are, else they are converted as batches are (Rows to Arrow, Arrow to pandas).
    `reasons`: at most this many (default and most: the model's n_reasons; 0 skips them)."""
    frames = None
    small = model.rows is not None and len(frame) <= ROW_PATH_ROWS
    while True:
        if small:
            frames = model.rows(frame)  # None: values it was not written for
        if frames is not None or isinstance(frame, pd.DataFrame):
            break
        # (to_pandas consumes the Arrow table: nothing reads it after this)
        frame = frame.to_arrow() if isinstance(frame, Rows) else to_pandas(frame)
    if frames is None:
        frames = model_frames(model.pipeline, frame[model.features])
    n = len(frame)
    ids = _entity_ids(frame, model.entity_id)
    before, transformed = frames
    k = model.n_reasons if reasons is None else min(reasons, model.n_reasons)
    if hasattr(model.attribution, "explain"):
        # a forest's score from the walk that finds its reasons, with or without them
        # (the same score however many reasons a request asks for)
        scores, contributions = model.attribution.explain(transformed, credits=k > 0)
    else:
        scores = np.asarray(model.predictor.predict(transformed), dtype=np.float64)
        contributions = model.attribution.contributions(transformed) if k else None
    if contributions is None or not k:
        none = np.empty((n, 0))
        return Scored(ids, scores, none.astype(object), none.astype(object), none, none > 0)
    # fewer than asked when the model has fewer features: the rest stay null
    top, pushes = top_contributions(contributions, k)
    up = pushes > 0  # a reason pushes the score up
    labels = np.asarray(model.names, dtype=object)[top]
    values = _reason_values(before, model.sources, top, up)
    return Scored(ids, scores, labels, values, pushes, up)


def scored_table(frame, model: ScoringModel, constants: dict[str, Any]) -> pa.Table:
    """One batch of the scoring input (see `scored`) -> rows of ml.model_scores, plus
    `constants`, the columns equal on every row."""
    result_of = scored(frame, model)
    n = len(result_of.ids)
    types = _types(model.n_reasons)
    result = {
        name: pa.repeat(pa.scalar(value, types.get(name)), n) for name, value in constants.items()
    }
    result["entity_id"] = pa.array(result_of.ids, types["entity_id"])
    result["score"] = pa.array(result_of.scores, types["score"])
    up = result_of.up
    for i in range(up.shape[1]):
        k = i + 1
        result[f"reason_{k}"] = pa.array(
            np.where(up[:, i], result_of.labels[:, i], None), types[f"reason_{k}"]
        )
        result[f"reason_{k}_value"] = pa.array(result_of.values[:, i], types[f"reason_{k}_value"])
        result[f"reason_{k}_contribution"] = pa.array(
            result_of.contributions[:, i], types[f"reason_{k}_contribution"], mask=~up[:, i]
        )
    for name in contract.reason_columns(model.n_reasons):
        if name not in result:
            result[name] = pa.nulls(n, types[name])
    return pa.table(result)


def _entity_ids(frame, column: str) -> np.ndarray:
    """The id column as text (pandas' astype(str); Arrow's cast for text and integers,
    which writes them alike)."""
    if isinstance(frame, Rows):
        return np.array(frame.ids(), dtype=object)
    if not isinstance(frame, pa.Table):
        return frame[column].astype(str).to_numpy()
    ids = frame.column(column)
    if not (pa.types.is_string(ids.type) or pa.types.is_integer(ids.type)) or ids.null_count:
        return to_pandas(frame.select([column]))[column].astype(str).to_numpy()
    return pc.cast(ids, pa.string()).to_numpy()


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
    # the target table's columns in its order: what `__call__` returns follows it (Spark
    # reads mapInArrow's batches by position, and a table from an older scorehouse has
    # the columns added since after its others)
    layout: tuple[str, ...] = ()

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
        _LOADED[(self.artifacts_dir, self.model_name, self.version, self.digest)] = scoring_model(
            artifact, pipeline, self.entity_id, self.n_reasons, self.compile_trees
        )

    def __call__(self, frame) -> pa.Table:
        return scored_table(frame, self.model(), self.constants).select(self.columns())

    def columns(self) -> list[str]:
        """The columns `__call__` returns (scored_table's): the constants, then the rest in
        the order of `layout`."""
        produced = ["entity_id", "score", *contract.reason_columns(self.n_reasons)]
        position = {name: i for i, name in enumerate(self.layout)}
        produced.sort(key=lambda name: position.get(name, len(position)))
        return [*self.constants, *produced]

    def map_batches(self, batches):
        """mapInArrow's form (Spark executors): Arrow batches in, converted to pandas the
        way every engine's rows are (same types, same scores), Arrow batches out."""
        for batch in batches:
            yield from self(to_pandas(batch)).to_batches()
