"""`scorehouse snapshot`: what the online service (python_scoring.serving) serves, exported
from the warehouse as files, so the service never opens the warehouse: an embedded DuckDB
file admits one writer and no reader beside it, and a Spark session holds its metastore.

A snapshot of a domain is a directory `<snapshots>/<domain>/<UTC time>/` holding

    manifest.json     per model: the version to serve with the digest ml.training_runs
                      recorded for it (the service verifies the artifact against it before
                      unpickling, as batch scoring does), its features, entity id, reasons,
                      the month, and the baseline's bin edges (ml.score_baselines)
    <model>.arrow     the model's scoring input of that month (id + features), Arrow IPC
    scores.arrow      the batch scores of each model's latest scored month (ml.model_scores)
    composite.arrow   the composite scores of the latest month (when the mart exists)

written under a temporary name and renamed whole, then named in `<domain>/CURRENT`
(replaced atomically): a service reading CURRENT sees a complete snapshot or the previous
one. The month is each model's latest scored month; the version is the newest one batch
scoring would use (trained, recorded and on disk).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from python_scoring import artifacts, contract
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.registry import ModelSpec, load_registry
from python_scoring.scoring.score import _recorded_runs, usable_versions
from python_scoring.warehouse import Warehouse, sql_literal

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
KEEP = 3  # snapshots kept per domain (a service may still read the previous one)
BATCH_ROWS = 100_000


def snapshots_dir(project: Project) -> Path:
    return Path(os.environ.get("SCOREHOUSE_SNAPSHOTS", project.project_dir / "snapshots"))


@dataclass(frozen=True)
class ModelSnapshot:
    name: str
    version: str
    digest: str
    month: dt.date
    entity_id: str
    features: list[str]
    n_reasons: int
    cuts: list[float]  # the baseline's upper bin edges, ascending (the last bin is open)
    rows: int


@dataclass(frozen=True)
class Snapshot:
    path: Path
    domain: str
    created_at: str
    models: dict[str, ModelSnapshot]
    composite: bool

    def input_file(self, model: str) -> Path:
        return self.path / f"{model}.arrow"

    @property
    def scores_file(self) -> Path:
        return self.path / "scores.arrow"

    @property
    def composite_file(self) -> Path | None:
        return self.path / "composite.arrow" if self.composite else None


def _write_arrow(path: Path, batches, schema: pa.Schema | None = None) -> int:
    """Arrow IPC file of the batches (uncompressed: the service memory-maps it)."""
    rows = 0
    writer = None
    try:
        for batch in batches:
            if writer is None:
                writer = pa.ipc.new_file(str(path), batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        if writer is None:  # no rows: an empty file of the schema
            writer = pa.ipc.new_file(str(path), schema or pa.schema([]))
    finally:
        if writer is not None:
            writer.close()
    return rows


def _model_snapshot(
    project: Project, wh: Warehouse, spec: ModelSpec, folder: Path
) -> ModelSnapshot | None:
    scores = project.source("ml", "model_scores").sql
    (latest,) = wh.query_arrow(
        f"select max(score_month) as month from {scores} "
        f"where model_name = {sql_literal(spec.name)}"
    ).to_pylist()
    month = latest["month"]
    usable = usable_versions(project, wh, spec)
    if month is None or not usable:
        log.warning("%s: not served: %s", spec.name, "never scored" if usable else "not trained")
        return None
    version = usable[-1]
    digest = _recorded_runs(project, wh, spec)[version]["artifact_sha256"]
    # the features the version reads (verified with the artifact when the service loads it)
    metadata = json.loads(
        (project.artifacts_dir / spec.name / version / artifacts.METADATA_FILE).read_text()
    )
    features = list(metadata["features"])
    relation = project.model(spec.scoring_input)
    wh.require_columns(relation, [spec.entity_id, spec.month_column, *features])
    columns = ", ".join([spec.entity_id, *features])
    rows = _write_arrow(
        folder / f"{spec.name}.arrow",
        wh.stream(
            f"select {columns} from {relation.sql} "
            f"where {spec.month_column} = {sql_literal(month)} order by {spec.entity_id}",
            BATCH_ROWS,
        ),
    )
    baselines = project.source("ml", "score_baselines").sql
    cuts = [
        r["upper_edge"]
        for r in wh.query_arrow(
            f"select bin, upper_edge from {baselines} where model_name = "
            f"{sql_literal(spec.name)} and model_version = {sql_literal(version)} order by bin"
        ).to_pylist()
        if r["upper_edge"] is not None
    ]
    return ModelSnapshot(
        spec.name, version, digest, month, spec.entity_id, features, spec.n_reasons, cuts, rows
    )


def write_snapshot(project: Project, wh: Warehouse, domain: str) -> Snapshot:
    """Export the domain's enabled, scored models; name it CURRENT; keep the last KEEP."""
    specs = [s for s in load_registry(project).values() if s.enabled and s.domain == domain]
    if not specs:
        raise ScorehouseError(f"no enabled registry model in domain '{domain}'")
    home = snapshots_dir(project) / domain
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = dt.datetime.now(dt.UTC)
    name = created.strftime("%Y%m%dT%H%M%S%fZ")
    folder = home / f".tmp-{name}"
    folder.mkdir(mode=0o700)
    try:
        models = {}
        for spec in specs:
            snap = _model_snapshot(project, wh, spec, folder)
            if snap is not None:
                models[spec.name] = snap
        if not models:
            raise ScorehouseError(
                f"nothing to serve in domain '{domain}': no enabled model has scored a month "
                "(`scorehouse score` first)"
            )
        _write_scores(project, wh, list(models.values()), folder)
        composite = _write_composite(project, wh, list(models), folder)
        manifest = {
            "domain": domain,
            "created_at": created.isoformat(),
            "composite": composite,
            "models": {
                m.name: {**m.__dict__, "month": m.month.isoformat()} for m in models.values()
            },
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
        for path in folder.iterdir():  # on disk before it is named
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        folder.rename(home / name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    pointer = home / f".{CURRENT}.tmp"
    pointer.write_text(name + "\n")
    os.replace(pointer, home / CURRENT)
    for old in sorted(p for p in home.iterdir() if p.is_dir() and not p.name.startswith("."))[
        :-KEEP
    ]:
        shutil.rmtree(old, ignore_errors=True)
    snapshot = read_snapshot(project, domain)
    log.info(
        "snapshot %s: %s",
        snapshot.path,
        ", ".join(
            f"{m.name} {m.version} {m.month:%Y-%m} ({m.rows:,} rows)" for m in models.values()
        ),
    )
    return snapshot


def _write_scores(project: Project, wh: Warehouse, models: list[ModelSnapshot], folder: Path):
    scores = project.source("ml", "model_scores")
    reasons = [
        c for c in contract.reason_columns(contract.max_reasons(project)) if c in wh.columns(scores)
    ]
    months = " or ".join(
        f"(model_name = {sql_literal(m.name)} and score_month = {sql_literal(m.month)})"
        for m in models
    )
    columns = ", ".join(["entity_id", "model_name", "model_version", "score_month", "score"])
    _write_arrow(
        folder / "scores.arrow",
        wh.stream(
            f"select {columns}, {', '.join(reasons)} from {scores.sql} where {months} "
            "order by entity_id, model_name",
            BATCH_ROWS,
        ),
    )


def _write_composite(project: Project, wh: Warehouse, names: list[str], folder: Path) -> bool:
    """The latest composite scores of the served models' entities, by clear id: the service
    is an operations tool (it answers by id), so the BI mart's pseudonymous key is mapped
    back through restricted.customer_keys (docs/privacy.md)."""
    composite, models = project.model("composite_scores"), project.model("dim_ml_models")
    keys = project.model("customer_keys")
    if not all(wh.exists(relation) for relation in (composite, models, keys)):
        return False
    served = ", ".join(sql_literal(n) for n in names)
    _write_arrow(
        folder / "composite.arrow",
        wh.stream(
            f"select k.entity_id, c.* from {composite.sql} as c inner join {keys.sql} as k "
            f"on c.entity_key = k.entity_key where c.entity in (select entity from "
            f"{models.sql} where model_name in ({served})) and c.score_month = (select "
            f"max(score_month) from {composite.sql} as l where l.entity = c.entity) "
            "order by k.entity_id",
            BATCH_ROWS,
        ),
    )
    return True


def read_snapshot(project: Project, domain: str) -> Snapshot:
    """The domain's CURRENT snapshot; a clear error when there is none."""
    home = snapshots_dir(project) / domain
    try:
        name = (home / CURRENT).read_text().strip()
        manifest = json.loads((home / name / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise ScorehouseError(
            f"no snapshot of domain '{domain}' under {home}: run `scorehouse snapshot "
            f"--domain {domain}` (the monthly `scorehouse run` writes one)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ScorehouseError(f"snapshot {home / name} is unreadable: {exc}") from exc
    models = {
        key: ModelSnapshot(**{**m, "month": dt.date.fromisoformat(m["month"])})
        for key, m in manifest["models"].items()
    }
    return Snapshot(home / name, domain, manifest["created_at"], models, manifest["composite"])
