"""What the service serves, built off to the side from a snapshot (scoring.snapshot) and
swapped in whole: per model the verified artifact as batch scoring loads it, the month's
scoring input memory-mapped with an id index, the baseline's bin edges; the batch and
composite scores for GET /v1/customers/{id}."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from python_scoring import artifacts
from python_scoring.errors import ScorehouseError
from python_scoring.features.rowpath import Rows
from python_scoring.features.stats import assign_bins
from python_scoring.project import Project
from python_scoring.scoring.snapshot import ModelSnapshot, Snapshot, read_snapshot
from python_scoring.scoring.task import ScoringModel, scored, scored_table, scoring_model
from python_scoring.warehouse import to_pandas

log = logging.getLogger(__name__)

SAMPLE_ROWS = 1000  # scoring-input rows a model is warmed and its row path verified on


class BadBody(ValueError):
    """A request body that is not what its content type says (400)."""


def _mapped(path) -> pa.Table:
    """An Arrow IPC file, memory-mapped (zero copy; workers share the page cache)."""
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def _ids(table: pa.Table, column: str) -> pd.Index:
    """Ids as text, converted as batch scoring converts them (scored_table's astype(str))."""
    return pd.Index(to_pandas(table.select([column]))[column].astype(str))


@dataclass(eq=False)  # hashed by identity: the service keys its batchers by model
class ServedModel:
    snap: ModelSnapshot
    scoring: ScoringModel
    schema: pa.Schema  # the scoring input's columns (id + features), as the warehouse typed them
    inputs: pa.Table
    index: pd.Index  # id text -> row of `inputs`
    cuts: np.ndarray

    @property
    def name(self) -> str:
        return self.snap.name

    def rows_of(self, ids: list[str]) -> pa.Table:
        """The scoring-input rows of these ids (KeyError naming the first unknown): a
        slice of the snapshot's table for one id (no copy), else its rows taken."""
        positions = []
        for entity_id in ids:  # get_loc: ~0.5 us an id; get_indexer costs ~70 us a call
            try:
                where = self.index.get_loc(entity_id)
            except KeyError:
                raise KeyError(entity_id) from None
            if isinstance(where, slice):  # a duplicated id (sorted index): its first row
                where = where.start
            elif not isinstance(where, int):  # a duplicated id: a mask, its first row
                where = int(np.flatnonzero(where)[0])
            positions.append(where)
        if len(positions) == 1:
            return self.inputs.slice(positions[0], 1)
        return self.inputs.take(pa.array(positions))

    def arrow_rows(self, body: bytes, max_rows: int) -> pa.Table:
        """An Arrow IPC stream's rows with the scoring input's types: every feature, the
        id optional (else its position), nothing else; ValueError naming what is wrong
        (BadBody: not an Arrow stream)."""
        try:
            table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
            table.validate(full=True)  # offsets and lengths inside their buffers
        except (pa.ArrowException, OSError, ValueError) as exc:
            why = (str(exc).strip().splitlines() or ["unreadable"])[0]
            raise BadBody(f"not an Arrow IPC stream: {why}") from None
        names, features = table.column_names, self.snap.features
        twice = sorted({n for n in names if names.count(n) > 1})
        missing = [n for n in features if n not in names]
        extra = [n for n in names if n not in features and n != self.snap.entity_id]
        for problem, which in (("given twice", twice), ("missing", missing)):
            if which:
                raise ValueError(f"{problem}: {', '.join(which[:5])}")
        if extra:
            raise ValueError(f"not features of {self.name}: {', '.join(extra[:5])}")
        if not 1 <= table.num_rows <= max_rows:
            raise ValueError(f"rows: {table.num_rows:,} rows, 1 to {max_rows:,} are scored")
        columns = {}
        for target in self.schema:
            if target.name == self.snap.entity_id:
                continue
            column = table.column(target.name)
            try:
                column = column.cast(target.type)  # safe: no overflow, no truncation
            except (pa.ArrowException, ValueError) as exc:
                why = (str(exc).strip().splitlines() or [""])[0]
                raise ValueError(
                    f"{target.name}: {column.type} does not fit {target.type} ({why})"
                ) from None
            if pa.types.is_floating(target.type) and pc.any(pc.is_inf(column)).as_py():
                raise ValueError(f"{target.name}: infinite values (a null or NaN is missing)")
            columns[target.name] = column
        if self.snap.entity_id in names:
            ids = table.column(self.snap.entity_id)
            try:
                ids = ids.cast(pa.string())
            except (pa.ArrowException, ValueError):
                raise ValueError(f"{self.snap.entity_id}: {ids.type} ids are not text") from None
        else:
            ids = pa.array([str(i) for i in range(table.num_rows)], pa.string())
        return pa.table({**columns, self.snap.entity_id: ids})

    def score(self, table: Rows | pa.Table, reasons: int | None = None) -> list[dict[str, Any]]:
        """A request's rows, or rows of the scoring input (a table of its own: to_pandas
        may consume it) -> per row what batch scoring writes (scoring.task.scored, the
        arrays scored_table writes), with the baseline bin and decile (1 = the top 10 %);
        `reasons`: at most this many reasons (default: the model's)."""
        result = scored(table, self.scoring, reasons)
        bins = np.searchsorted(self.cuts, result.scores, side="left")  # assign_bins (load)
        up, labels = result.up.tolist(), result.labels.tolist()
        values, contributions = result.values.tolist(), result.contributions.tolist()
        reasons = range(result.up.shape[1])
        return [
            {
                "entity_id": entity_id,
                "score": score,
                "baseline_bin": int(bin_),
                "decile": len(self.cuts) + 1 - int(bin_),
                "reasons": [
                    {
                        "feature": labels[r][i],
                        "value": values[r][i],
                        "contribution": contributions[r][i],
                    }
                    for i in reasons
                    if up[r][i]
                ],
            }
            for r, (entity_id, score, bin_) in enumerate(
                zip(result.ids.tolist(), result.scores.tolist(), bins, strict=True)
            )
        ]


@dataclass
class State:
    snapshot: Snapshot
    models: dict[str, ServedModel]
    scores: pa.Table  # ml.model_scores of each model's latest month, ordered by id text
    scores_index: pd.Index  # monotonic: get_loc gives a slice
    composite: pa.Table | None
    composite_index: pd.Index | None
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def customer(self, entity_id: str) -> dict[str, Any] | None:
        """The id's latest batch scores (every served model) and composite scores."""
        rows = _slice(self.scores, self.scores_index, entity_id)
        composite = (
            _slice(self.composite, self.composite_index, entity_id)
            if self.composite is not None
            else []
        )
        if not rows and not composite:
            return None
        scores = []
        for record in rows:
            n = sum(1 for c in record if c.endswith("_contribution"))
            reasons = [
                {
                    "feature": record[f"reason_{i}"],
                    "value": record[f"reason_{i}_value"],
                    "contribution": record[f"reason_{i}_contribution"],
                }
                for i in range(1, n + 1)
                if record[f"reason_{i}"] is not None
            ]
            scores.append(
                {
                    "model": record["model_name"],
                    "version": record["model_version"],
                    "month": record["score_month"],
                    "score": record["score"],
                    "reasons": reasons,
                }
            )
        return {
            "entity_id": entity_id,
            "scores": scores,
            "composite": [
                {
                    "entity": c["entity"],
                    "month": c["score_month"],
                    "composite_score": c["composite_score"],
                    "models_scored": c["models_scored"],
                    "weight_coverage": c["weight_coverage"],
                    "rank": c["score_rank"],
                    "decile": c["score_decile"],
                }
                for c in composite
            ],
        }


def _slice(table: pa.Table, index: pd.Index, key: str) -> list[dict[str, Any]]:
    try:
        where = index.get_loc(key)
    except KeyError:
        return []
    if isinstance(where, slice):
        return table.slice(where.start, where.stop - where.start).to_pylist()
    return table.take(pa.array([where])).to_pylist()


def _sorted_by_id(table: pa.Table, column: str) -> tuple[pa.Table, pd.Index]:
    ids = _ids(table, column)
    order = np.argsort(ids.to_numpy(), kind="stable")
    return table.take(pa.array(order)), pd.Index(ids.to_numpy()[order])


def _served(
    project: Project, snapshot: Snapshot, snap: ModelSnapshot, compile_trees: bool
) -> ServedModel:
    """Verify and load the artifact (sha256 of its files against the digest the snapshot
    copied from ml.training_runs, library versions; before anything is unpickled), map the
    input, warm the predictor and verify the row path on the month's first rows."""
    artifact, pipeline = artifacts.load(
        project.artifacts_dir,
        snap.name,
        snap.version,
        expected=snap.digest,
        record=f"ml.training_runs (copied into snapshot {snapshot.path})",
    )
    if list(artifact.metadata.get("features", [])) != snap.features:
        raise ScorehouseError(
            f"snapshot {snapshot.path} lists other features for {snap.name} {snap.version} "
            "than its artifact: write a new snapshot (`scorehouse snapshot`)"
        )
    inputs = _mapped(snapshot.input_file(snap.name))
    missing = [c for c in [snap.entity_id, *snap.features] if c not in inputs.column_names]
    if missing:
        raise ScorehouseError(f"{snapshot.input_file(snap.name)} lacks {', '.join(missing)}")
    estimator = pipeline.named_steps["model"]
    if "n_jobs" in estimator.get_params():
        # a request is a few rows: a thread pool per call (a forest's trees) costs more
        # than it saves; workers, one per core, use the cores
        estimator.set_params(n_jobs=1)
    sample = inputs.slice(0, SAMPLE_ROWS)  # requests arrive as Arrow tables of these types
    scoring = scoring_model(
        artifact, pipeline, snap.entity_id, snap.n_reasons, compile_trees, sample=sample
    )
    scored_table(inputs.slice(0, SAMPLE_ROWS), scoring, {})  # warm (and self-check)
    cuts = np.asarray(snap.cuts, dtype=np.float64)
    assign_bins(cuts, cuts)  # edges training's binning accepts (ascending, finite)
    return ServedModel(
        snap,
        scoring,
        inputs.schema,
        inputs,
        _ids(inputs, snap.entity_id),
        cuts,
    )


def load_state(project: Project, domain: str, compile_trees: bool = True) -> State:
    """A complete new state from the domain's CURRENT snapshot (ScorehouseError when it
    cannot be built: the caller keeps serving the old one)."""
    clock = time.perf_counter()
    snapshot = read_snapshot(project, domain)
    models = {
        name: _served(project, snapshot, snap, compile_trees)
        for name, snap in snapshot.models.items()
    }
    scores, scores_index = _sorted_by_id(_mapped(snapshot.scores_file), "entity_id")
    composite = composite_index = None
    if snapshot.composite_file is not None:
        composite, composite_index = _sorted_by_id(_mapped(snapshot.composite_file), "entity_id")
    log.info(
        "serving %s in %.1fs: %s",
        snapshot.path,
        time.perf_counter() - clock,
        ", ".join(
            f"{m.name} {m.snap.version} ({m.scoring.predictor.method}"
            f"{', row path' if m.scoring.rows is not None else ''})"
            for m in models.values()
        ),
    )
    return State(snapshot, models, scores, scores_index, composite, composite_index)
