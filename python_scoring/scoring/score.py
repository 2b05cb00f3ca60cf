"""`scorehouse score`: score a month's population with the latest verified artifact and
replace that (model, month) slice of ml.model_scores atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import signal
import time
from dataclasses import dataclass

import pyarrow as pa

from python_scoring import artifacts, contract
from python_scoring.errors import ScorehouseError
from python_scoring.progress import Progress
from python_scoring.project import Project, Relation
from python_scoring.registry import ModelSpec
from python_scoring.scoring.locks import slice_lock
from python_scoring.scoring.task import ScoringTask
from python_scoring.warehouse import Warehouse, sql_literal

log = logging.getLogger(__name__)

SCORE_COLUMNS = tuple(contract.model_scores_schema(0).names)  # without the reasons


@dataclass(frozen=True)
class ScoreResult:
    spec: ModelSpec
    version: str
    month: dt.date
    rows: int
    seconds: float


def _check_month(
    wh: Warehouse, spec: ModelSpec, relation, month: dt.date | None
) -> tuple[dt.date, int]:
    m = spec.month_column
    present = wh.query_arrow(
        f"select {m} as month, count(*) as n, count(distinct {spec.entity_id}) as ids, "
        f"count({spec.entity_id}) as with_id from {relation.sql} group by {m}"
    ).to_pylist()
    if not present:
        raise ScorehouseError(f"{relation} is empty: no population to score")
    months = sorted(r["month"] for r in present)
    if month is None:
        if len(months) != 1:
            raise ScorehouseError(
                f"{relation} holds several months ({months[0]} .. {months[-1]}): pass --month"
            )
        month = months[0]
    row = next((r for r in present if r["month"] == month), None)
    if row is None:
        raise ScorehouseError(
            f"month {month} is not in {relation} (it holds {', '.join(map(str, months))}); "
            f"rebuild it with dbt build --vars '{{score_month: {month}}}'"
        )
    if row["with_id"] != row["n"]:
        raise ScorehouseError(
            f"{relation} has {row['n'] - row['with_id']} row(s) with a null {spec.entity_id} "
            f"in month {month}: refusing to score"
        )
    if row["ids"] != row["n"]:
        raise ScorehouseError(
            f"{relation} has {row['n'] - row['ids']} duplicate {spec.entity_id} value(s) in "
            f"month {month}: refusing to score"
        )
    return month, row["n"]


def latest_scoring_versions(project: Project, wh: Warehouse) -> dict[str, set[str]]:
    """Per model, the artifact version(s) that wrote its latest score month."""
    scores = project.source("ml", "model_scores").sql
    rows = wh.query_arrow(
        f"select distinct s.model_name, s.model_version from {scores} as s "
        f"where s.score_month = (select max(score_month) from {scores} as latest "
        f"where latest.model_name = s.model_name)"
    ).to_pylist()
    versions: dict[str, set[str]] = {}
    for row in rows:
        versions.setdefault(row["model_name"], set()).add(row["model_version"])
    return versions


def _recorded_runs(project: Project, wh: Warehouse, spec: ModelSpec) -> dict[str, dict]:
    """The model's versions recorded in ml.training_runs, with what scoring checks."""
    runs = project.source("ml", "training_runs")
    return {
        row["model_version"]: row
        for row in wh.query_arrow(
            f"select model_version, artifact_sha256, oot_month, train_months from {runs.sql} "
            f"where model_name = {sql_literal(spec.name)}"
        ).to_pylist()
    }


def recorded_versions(project: Project, wh: Warehouse) -> dict[str, set[str]]:
    """Per model, the versions training recorded in ml.training_runs."""
    runs = project.source("ml", "training_runs").sql
    versions: dict[str, set[str]] = {}
    for row in wh.query_arrow(f"select distinct model_name, model_version from {runs}").to_pylist():
        versions.setdefault(row["model_name"], set()).add(row["model_version"])
    return versions


def usable_versions(project: Project, wh: Warehouse, spec: ModelSpec) -> list[str]:
    """Versions on disk that training recorded, oldest first: what scoring may use."""
    recorded = _recorded_runs(project, wh, spec)
    return [v for v in artifacts.versions(project.artifacts_dir, spec.name) if v in recorded]


def verified_artifact(project: Project, wh: Warehouse, spec: ModelSpec, version: str | None):
    """The artifact to score with: the given version, else the newest one that training
    recorded in ml.training_runs; its files must match the digest recorded there (the
    trust anchor: checked before anything is unpickled, so a model file changed together
    with its metadata.json is refused, never executed)."""
    runs = project.source("ml", "training_runs")
    recorded = _recorded_runs(project, wh, spec)
    if version is None:
        usable = usable_versions(project, wh, spec)
        if not usable:
            raise ScorehouseError(
                f"no artifact of model '{spec.name}' under {project.artifacts_dir} is "
                f"recorded in {runs}: run `scorehouse train --model {spec.name}`"
            )
        version = usable[-1]
    elif version not in recorded:
        raise ScorehouseError(f"version '{version}' of '{spec.name}' is not recorded in {runs}")
    run = recorded[version]
    artifact, pipeline = artifacts.load(
        project.artifacts_dir, spec.name, version, run["artifact_sha256"], str(runs)
    )
    features = artifact.metadata.get("features")
    if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
        raise ScorehouseError(
            f"{artifact.path / artifacts.METADATA_FILE} has no list of feature names: "
            f"retrain it (`scorehouse train --model {spec.name}`)"
        )
    # the last month whose labels training saw (a model without out-of-time month: the
    # last in-time month)
    last_month = run["oot_month"] or max(
        dt.date.fromisoformat(m) for m in run["train_months"].split(",")
    )
    return artifact, pipeline, last_month


def _staging(target: Relation, spec: ModelSpec, month: dt.date) -> Relation:
    """The slice's staging table, beside ml.model_scores."""
    return Relation(
        target.database, target.schema, f"{target.identifier}__{spec.name}__{month:%Y%m}"
    )


def _staged_input(target: Relation, spec: ModelSpec, month: dt.date) -> Relation:
    """The one-row table beside the staging table recording what its pieces were scored
    from (`_STAGED_INPUT`); its name differs from the staging table's early, so that an
    engine truncating long names (PostgreSQL: 63 characters) keeps the two apart."""
    return Relation(
        target.database, target.schema, f"{target.identifier}_input__{spec.name}__{month:%Y%m}"
    )


_STAGED_INPUT = pa.schema(
    [
        ("model_version", pa.string()),
        ("pieces", pa.int32()),
        ("n_reasons", pa.int32()),
        ("input_rows", pa.int64()),
        ("input_fingerprint", pa.string()),
    ]
)


@dataclass(frozen=True)
class InputState:
    """The month's scoring input as scoring reads it: its rows, a fingerprint of the
    columns scoring reads, and how many distinct piece values its ids have."""

    rows: int
    fingerprint: str
    piece_values: int


def _input_state(
    wh: Warehouse, spec: ModelSpec, relation: Relation, month: dt.date, features: list[str]
) -> InputState:
    """One scan of the month's input: row count, distinct piece values and an
    order-independent fingerprint of the id and feature columns (the engine's
    row_fingerprint), so a rebuild with the same ids but other values changes it."""
    sums = wh.row_fingerprint([spec.entity_id, *features])
    # positions: as many values as rows
    piece_of = (
        "0" if spec.piece_by == "position" else wh.piece_expression(spec.entity_id, spec.piece_by)
    )
    (state,) = wh.query_arrow(
        f"select count(*) as n, count(distinct {piece_of}) as piece_values, "
        + ", ".join(f"{wh.as_text(s)} as s{i}" for i, s in enumerate(sums))
        + f" from {relation.sql} where {spec.month_column} = {sql_literal(month)}"
    ).to_pylist()
    rows = int(state["n"])
    text = ":".join([str(rows), *(str(state[f"s{i}"]) for i in range(len(sums)))])
    values = rows if spec.piece_by == "position" else state["piece_values"]
    return InputState(rows, hashlib.sha256(text.encode()).hexdigest()[:16], values)


def _check_pieces(
    spec: ModelSpec, relation: Relation, month: dt.date, n_pieces: int, given: bool, values: int
) -> None:
    """Refuse more pieces than the ids have distinct piece values: the rest would be
    empty pieces, each a full scan of the month's input for nothing."""
    if n_pieces <= values:
        return
    source = f"--pieces {n_pieces}" if given else f"pieces: {n_pieces} (registry, '{spec.name}')"
    more = " (piece_by: hash in the registry allows more)" if spec.piece_by != "hash" else ""
    raise ScorehouseError(
        f"{source} is more than the {values} distinct piece values of {relation} for {month} "
        f"under piece_by '{spec.piece_by}': at least {n_pieces - values} piece(s) would be "
        f"empty; use --pieces {values} or fewer{more}"
    )


def _stale(wh: Warehouse, marker: Relation, expected: dict, staged: list[dict]) -> str | None:
    """Why the pieces in staging may not be resumed, None when they may."""
    version, pieces = expected["model_version"], expected["pieces"]
    if not all(r["pieces"] == pieces and r["model_version"] == version for r in staged):
        return "left by a run with another version or piece count"
    recorded = []
    if wh.exists(marker):
        recorded = wh.query_arrow(f"select * from {marker.sql}").to_pylist()
    if len(recorded) != 1:
        return f"what its pieces were scored from is not recorded ({marker})"
    (was,) = recorded
    if (was["model_version"], was["pieces"]) != (version, pieces):
        return "left by a run with another version or piece count"
    if was["n_reasons"] != expected["n_reasons"]:
        return f"written with {was['n_reasons']} reasons, not {expected['n_reasons']}"
    if was["input_fingerprint"] != expected["input_fingerprint"]:
        return (
            f"the scoring input changed since they were written ({was['input_rows']} rows, "
            f"fingerprint {was['input_fingerprint']}; now {expected['input_rows']} rows, "
            f"{expected['input_fingerprint']})"
        )
    return None


def _resume(
    wh: Warehouse, target: Relation, staging: Relation, marker: Relation, expected: dict
) -> dict[int, int]:
    """The pieces already in staging from an interrupted run of the same version, piece
    count, reasons and scoring input (its fingerprint, recorded in `marker`; each piece
    was committed whole); otherwise a fresh, empty staging table."""
    if wh.exists(staging):
        state = wh.query_arrow(
            f"select piece, pieces, model_version, count(*) as n from {staging.sql} "
            "group by piece, pieces, model_version"
        ).to_pylist()
        reason = _stale(wh, marker, expected, state)
        if reason is None and not set(wh.columns(target)) <= set(wh.columns(staging)):
            reason = f"created before {target} gained its newer columns"
        if reason is None:
            done = {r["piece"]: r["n"] for r in state}
            if done:
                log.info(
                    "%s: resuming: pieces %s already written by an interrupted run",
                    staging,
                    ", ".join(str(p) for p in sorted(done)),
                )
            return done
        written = ", ".join(str(p) for p in sorted({r["piece"] for r in state}))
        log.info(
            "%s: %s: starting over%s",
            staging,
            reason,
            f" (pieces {written} dropped)" if written else "",
        )
    # the record goes first and comes back last: a staging table holding pieces always
    # has the record of the run that created it
    wh.drop(marker)
    wh.create_piece_table(staging, like=target)
    wh.replace_tables([(marker, pa.Table.from_pylist([expected], schema=_STAGED_INPUT))])
    return {}


def score_model(
    project: Project,
    wh: Warehouse,
    spec: ModelSpec,
    month: dt.date | None = None,
    version: str | None = None,
    n_reasons: int | None = None,
    pieces: int | None = None,
    progress: bool = True,
    compile_trees: bool = True,
) -> ScoreResult:
    """Score one month's population piece by piece into a staging table (each piece
    committed on its own, so a killed run resumes where it stopped), then swap the
    (model, month) slice of ml.model_scores in one transaction."""
    clock = time.perf_counter()
    k = spec.n_reasons if n_reasons is None else n_reasons
    n_pieces = spec.pieces if pieces is None else pieces
    max_reasons = contract.max_reasons(project)
    if not 0 <= k <= max_reasons:
        raise ScorehouseError(f"--n-reasons must be between 0 and {max_reasons}, got {k}")
    if n_pieces < 1:
        raise ScorehouseError(f"--pieces must be >= 1, got {n_pieces}")
    artifact, pipeline, oot_month = verified_artifact(project, wh, spec, version)
    features = artifact.metadata["features"]
    relation = project.model(spec.scoring_input)
    wh.require_columns(relation, [spec.entity_id, spec.month_column, *features])
    month, population = _check_month(wh, spec, relation, month)

    def index(day: dt.date) -> int:
        return day.year * 12 + day.month

    if index(month) < index(oot_month) + spec.label_lag_months:
        raise ScorehouseError(
            f"version {artifact.version} of '{spec.name}' learned from labels up to "
            f"{oot_month} + {spec.label_lag_months} month(s); scoring {month} with it would "
            "use the future: score with a version trained before that month (--version)"
            + (
                "; or, if a row's label is known in the row's own month (a snapshot, scored "
                "in the month it was trained on), set label_lag_months: 0 in the registry "
                f"entry of '{spec.name}'"
                if spec.label_lag_months
                else ""
            )
        )
    state = _input_state(wh, spec, relation, month, features)
    _check_pieces(spec, relation, month, n_pieces, pieces is not None, state.piece_values)
    target = project.source("ml", "model_scores")
    layout = wh.columns(target)
    missing = [c for c in [*SCORE_COLUMNS, *contract.reason_columns(k)] if c not in layout]
    if missing:
        raise ScorehouseError(
            f"{target} has no column(s) {', '.join(missing)}: run a dbt build first (its "
            "on-run-start hook adds the columns a newer scorehouse writes)"
        )
    scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    columns = ", ".join([spec.entity_id, *features])
    in_month = f"{spec.month_column} = {sql_literal(month)}"
    filters = wh.piece_filters(relation, in_month, spec.entity_id, spec.piece_by, n_pieces)

    def task(piece: int) -> ScoringTask:
        return ScoringTask(
            str(project.artifacts_dir),
            spec.name,
            artifact.version,
            artifact.digest,
            spec.entity_id,
            k,
            compile_trees,
            {
                "model_name": spec.name,
                "model_version": artifact.version,
                "score_month": month,
                "scored_at": scored_at,
                "piece": piece,
                "pieces": n_pieces,
            },
            tuple(layout),
        )

    task(0).keep(artifact, pipeline)  # compiled and checked here first: errors surface now
    scoring = task(0).model()

    def piece_sql(piece: int) -> str:
        return f"select {columns} from {relation.sql} where {in_month} and {filters[piece]}"

    where = {"model_name": spec.name, "score_month": month}
    staging = _staging(target, spec, month)
    marker = _staged_input(target, spec, month)
    expected = {
        "model_version": artifact.version,
        "pieces": n_pieces,
        "n_reasons": k,
        "input_rows": state.rows,
        "input_fingerprint": state.fingerprint,
    }

    def give_up(problem: str) -> ScorehouseError:
        """Stale pieces (the input changed while they were written): start over."""
        wh.drop(staging)
        wh.drop(marker)
        return ScorehouseError(
            f"{problem}: the staged pieces were dropped and the {month} slice of {target} "
            f"kept; rerun `scorehouse score --model {spec.name}` once the input is rebuilt"
        )

    with slice_lock(project, wh, spec.name, month):
        done = _resume(wh, target, staging, marker, expected)
        meter = Progress(f"{spec.name} {month}", population, n_pieces, enabled=progress)
        meter.rows = sum(done.values())
        written = 0
        try:
            for piece in range(n_pieces):
                if piece in done:
                    meter.step_done("(already written)")
                    continue
                rows = wh.write_piece(staging, piece, piece_sql(piece), task(piece), meter.advance)
                meter.step_done(f"{rows:,} rows")
                written += 1
                _crash_test_hook(written)
        finally:
            meter.close()
        staged, strangers, twice = (
            wh.query_arrow(
                f"select count(*) as staged, count(*) - count(population.id) as strangers, "
                "count(*) - count(distinct staged.entity_id) as twice "
                f"from {staging.sql} as staged left join (select "
                f"{wh.as_text(spec.entity_id)} as id from {relation.sql} "
                f"where {spec.month_column} = {sql_literal(month)}) as population "
                "on staged.entity_id = population.id"
            )
            .to_pylist()[0]
            .values()
        )
        # the population's ids are unique: equal counts, no staged id outside it and none
        # staged twice mean the same set of ids (positional pieces resumed over a table
        # rebuilt in another row order would stage some twice and miss others)
        if staged != population or strangers or twice:
            raise give_up(
                f"{staging} held {staged} rows ({strangers} of ids no longer in the input, "
                f"{twice} staged twice) but {relation} has {population} for {month}: the "
                "scoring input changed between pieces"
            )
        # the same ids, but the values may have changed under the pieces (another writer)
        now = _input_state(wh, spec, relation, month, features)
        if now.fingerprint != state.fingerprint:
            raise give_up(
                f"{relation} changed while it was being scored ({state.rows} rows, "
                f"fingerprint {state.fingerprint}; now {now.rows} rows, {now.fingerprint})"
            )
        rows = wh.swap_slice(target, where, staging)
        wh.drop(marker)
    seconds = time.perf_counter() - clock
    log.info(
        "%s: wrote %d scores for %s (version %s, %d pieces, predicted by %s) to %s in %.1fs",
        spec.name,
        rows,
        month,
        artifact.version,
        n_pieces,
        scoring.predictor.method,
        target,
        seconds,
    )
    return ScoreResult(spec, artifact.version, month, rows, seconds)


def _crash_test_hook(pieces_written: int) -> None:
    """Crash tests only: SCOREHOUSE_KILL_AFTER_PIECES=n kills this process (SIGKILL, no
    cleanup) right after its n-th piece is committed, as an operator's kill -9 would;
    SCOREHOUSE_KILL_SIGNAL=SIGINT sends Ctrl-C's signal instead."""
    limit = os.environ.get("SCOREHOUSE_KILL_AFTER_PIECES")
    if limit and pieces_written >= int(limit):
        name = os.environ.get("SCOREHOUSE_KILL_SIGNAL", "SIGKILL")
        os.kill(os.getpid(), signal.Signals[name])
