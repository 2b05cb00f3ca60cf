"""One function per `scorehouse` command, each printing its one-line results: the CLI
calls one of them per command, and the monthly cycle (`cycle`) runs them as its stages."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from python_scoring.dbt_runner import ensure_manifest
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.registry import ModelSpec, load_registry, select_models
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)


def check(project: Project) -> None:
    """Validate the registry and list its models."""
    for spec in load_registry(project).values():
        state = "enabled" if spec.enabled else "disabled"
        print(
            f"{spec.name}: {spec.domain} {spec.scenario}, {spec.algorithm}, weight "
            f"{spec.composite_weight}, {state}"
        )


def generate(
    project: Project,
    domain: str,
    *,
    subscribers: int,
    corporate: int,
    retail: int,
    months: int | None,
    start_month: dt.date,
    seed: int,
    drift_month: dt.date | None = None,
    csv_dir: Path | None = None,
) -> None:
    """Synthetic data into the domain's raw source tables (bank: or as CSV files)."""
    from python_scoring.synthetic import load_bank, load_synthetic
    from python_scoring.synthetic.bank import BankConfig, write_csv_files
    from python_scoring.synthetic.telco import GeneratorConfig

    if domain == "bank":
        config = BankConfig(
            n_corporate=corporate,
            n_months=months or 6,
            n_retail=retail,
            start_month=start_month,
            seed=seed,
        )
        if csv_dir is not None:  # files only: no manifest, profile or warehouse needed
            try:
                written = write_csv_files(config, csv_dir)
            except ValueError as exc:  # a config the generator refuses
                raise ScorehouseError(f"generator: {exc}") from exc
            for path, rows in written.items():
                print(f"{path}: {rows} rows")
            return
        ensure_manifest(project)  # the first command on a fresh clone
        with Warehouse.connect(project, create=True) as wh:
            load_bank(project, wh, config)
        return
    if csv_dir is not None:
        raise ScorehouseError("--csv-dir is for --domain bank")
    config = GeneratorConfig(
        n_subscribers=subscribers,
        n_months=months or 12,
        start_month=start_month,
        seed=seed,
        drift_month=drift_month,
    )
    ensure_manifest(project)
    with Warehouse.connect(project, create=True) as wh:
        load_synthetic(project, wh, config)


def load(
    project: Project,
    table: str,
    file: Path,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    header: bool | None = None,
) -> None:
    """A file (CSV/TSV, .del, .xlsx; UTF-8 or GBK; the delimiter detected unless given)
    into the table a dbt source declares, replacing it only once the file has every
    declared column; prints the rows, the columns (count and names) and how it was read."""
    from python_scoring.files import ReadOptions, check_file
    from python_scoring.load import listed, load_file

    options = ReadOptions(delimiter, encoding, sheet, header)  # bad options before any work
    check_file(file)  # a missing or empty file too
    ensure_manifest(project)  # the first command on a fresh clone, or after a new source
    with Warehouse.connect(project, create=True) as wh:  # it writes a raw table
        loaded = load_file(project, wh, table, file, options)
    how = f" ({loaded.read_as})" if loaded.read_as else ""
    print(
        f"{table}: {loaded.rows} rows x {len(loaded.columns)} columns from {file}{how}: "
        f"{listed(loaded.columns, most=12)}"
    )


def _specs(project: Project, models: str | Sequence[str] | None, domain: str) -> list[ModelSpec]:
    """The named model(s), or every enabled model of the domain."""
    if models is None or isinstance(models, str):
        return select_models(project, models, domain)
    return [spec for name in models for spec in select_models(project, name, domain)]


def train(
    project: Project,
    models: str | Sequence[str] | None,
    domain: str,
    verbose: bool = True,
    only_untrained: bool = False,
) -> list[str]:
    """Train the named model(s), or every enabled model of the domain (only those without
    a usable trained version when `only_untrained`); return the names trained."""
    from python_scoring.scoring.score import usable_versions
    from python_scoring.training.report import format_metrics, headline
    from python_scoring.training.train import train_model

    specs = _specs(project, models, domain)
    trained = []
    with Warehouse.connect(project) as wh:
        for spec in specs:
            if only_untrained and usable_versions(project, wh, spec):
                print(f"{spec.name}: scoring with its trained version, not retrained")
                continue
            result = train_model(project, wh, spec)
            trained.append(spec.name)
            print(f"{spec.name} {result.artifact.version}: {headline(result.metrics)}")
            if verbose:
                print(format_metrics(result.metrics, spec.threshold))
    return trained


def score(
    project: Project,
    models: str | Sequence[str] | None,
    domain: str,
    month: dt.date | None = None,
    version: str | None = None,
    n_reasons: int | None = None,
    pieces: int | None = None,
    progress: bool = True,
    compile_trees: bool = True,
) -> None:
    from python_scoring.scoring.score import score_model

    specs = _specs(project, models, domain)
    with Warehouse.connect(project) as wh:
        for spec in specs:
            result = score_model(
                project, wh, spec, month, version, n_reasons, pieces, progress, compile_trees
            )
            print(
                f"{spec.name} {result.version}: scored {result.rows} rows for "
                f"{result.month} in {result.seconds:.1f}s"
            )


def rules(project: Project, names: list[str]) -> None:
    """Mine the named rule sets (clusters and association rules)."""
    from python_scoring.mining.rules import run_rule_set, select_rule_set

    specs = [select_rule_set(project, name) for name in names]
    with Warehouse.connect(project) as wh:
        for spec in specs:
            result = run_rule_set(project, wh, spec)
            print(
                f"{result.rule_set}: {result.entities} entities in {result.clusters} "
                f"cluster(s), {result.rules} rules in {result.seconds:.1f}s"
            )


def clean(project: Project, keep: int, model: str | None) -> None:
    """Delete old artifact versions: all but the newest `keep` that training recorded in
    ml.training_runs, never the one that scored a model's latest month, and the leftovers
    of interrupted trains (versions saved but never recorded, older than an hour)."""
    from python_scoring.artifacts import LEFTOVER_AGE_SECONDS, prune
    from python_scoring.scoring.score import latest_scoring_versions, recorded_versions

    names = [model] if model else sorted(load_registry(project))
    if model:
        select_models(project, model)  # unknown names fail with the usual message
    with Warehouse.connect(project) as wh:
        protected = latest_scoring_versions(project, wh)
        recorded = recorded_versions(project, wh)
    runs = project.source("ml", "training_runs")
    age = f"{LEFTOVER_AGE_SECONDS // 3600} h"
    for name in names:
        pruned = prune(
            project.artifacts_dir,
            name,
            keep,
            protected.get(name, set()),
            recorded.get(name, set()),
        )
        kept = ", ".join(sorted(protected.get(name, set()))) or "none"
        line = (
            f"{name}: deleted {len(pruned.deleted)} (kept the newest {keep} recorded in {runs} "
            f"and the version that scored the latest month: {kept})"
        )
        if pruned.leftovers:
            n = len(pruned.leftovers)
            line += (
                f"; {n} of them unrecorded leftover{'s' if n > 1 else ''} of "
                f"{'interrupted trains' if n > 1 else 'an interrupted train'}"
            )
        if pruned.recent:
            n = len(pruned.recent)
            line += (
                f"; kept {n} unrecorded version{'s' if n > 1 else ''} saved less than {age} "
                "ago (a train may be recording it): run clean again later"
            )
        print(line)
        for path in pruned.deleted:
            log.info("deleted %s", path)


def summary(project: Project, domains: list[str] | None = None) -> None:
    from python_scoring.jobs.summary import print_summary

    with Warehouse.connect(project) as wh:
        print_summary(project, wh, domains)


def report(
    project: Project,
    output: Path,
    domains: list[str] | None = None,
    month: dt.date | None = None,
) -> Path:
    """`scorehouse report`: the HTML report (python_scoring.report) written to `output`."""
    from python_scoring.report import write_report

    with Warehouse.connect(project) as wh:
        written = write_report(project, wh, output, domains, month)
    print(
        f"report: {written.path} ({written.size / 1e6:.2f} MB, {written.models} model(s), "
        f"{written.seconds:.1f}s); open it in a browser"
    )
    return written.path


def snapshot(project: Project, domain: str) -> Path:
    """`scorehouse snapshot`: what the online service serves, as files (scoring.snapshot)."""
    from python_scoring.scoring.snapshot import write_snapshot

    with Warehouse.connect(project) as wh:
        written = write_snapshot(project, wh, domain)
    for m in written.models.values():
        print(f"snapshot {domain}: {m.name} {m.version}, {m.month:%Y-%m}, {m.rows:,} rows")
    print(f"snapshot: {written.path}")
    return written.path


def spool_dir(project: Project, given: Path | None) -> Path:
    """The service's request log: --spool, else $SCOREHOUSE_SPOOL, else <project>/spool."""
    return given or Path(os.environ.get("SCOREHOUSE_SPOOL", project.project_dir / "spool"))


def serve(
    project: Project,
    domain: str,
    host: str,
    port: int,
    workers: int,
    spool: Path | None,
    fsync: bool,
    compile_trees: bool = True,
) -> None:
    """`scorehouse serve`: the online service (serving.app) under uvicorn. The snapshot is
    loaded and verified here first, so a problem is one line before any socket opens."""
    import tempfile

    import uvicorn

    from python_scoring.serving.app import Settings, create_app
    from python_scoring.serving.state import load_state

    if workers < 1:
        raise ScorehouseError(f"--workers must be >= 1, got {workers}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one request, one thread: no pool wake-ups
    state = load_state(project, domain, compile_trees)
    settings = Settings(
        project.project_dir,
        domain,
        spool_dir(project, spool),
        fsync,
        workers,
        os.getpid() if workers > 1 else None,
        compile_trees,
    )
    options: dict = {
        "host": host,
        "port": port,
        "access_log": False,  # every request is in the spool and the metrics
        "timeout_graceful_shutdown": 30,
        "log_level": "info",
    }
    print(
        f"serving {', '.join(state.models)} ({domain}, snapshot {state.snapshot.path.name}) "
        f"on http://{host}:{port} (OpenAPI: /docs); requests logged in {settings.spool_dir}",
        flush=True,
    )
    if workers == 1:
        uvicorn.run(create_app(settings, state), **options)
        return
    del state  # each worker loads its own
    _release_memory()
    os.environ.update(settings.environ())
    metrics_dir = tempfile.mkdtemp(prefix="scorehouse-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    uvicorn.run(
        "python_scoring.serving.app:create_app",
        factory=True,
        workers=workers,
        # a worker loads its models before it is ready: a restart (SIGHUP) waits for it
        timeout_worker_healthcheck=300,
        **options,
    )


def _release_memory() -> None:
    """Give the heap the verification used back to the system: the supervisor only
    watches its workers (glibc keeps freed memory otherwise). Measured with the demo's
    three models: 385 -> 360 MB RSS; the rest is the imported libraries."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def ingest_requests(project: Project, spool: Path | None) -> None:
    """`scorehouse ingest-requests`: the service's request log into ml.online_requests."""
    from python_scoring.serving.ingest import ingest_requests as ingest

    with Warehouse.connect(project) as wh:
        result = ingest(project, wh, spool_dir(project, spool))
    print(
        f"ingest-requests: {result.files} file(s), {result.lines:,} request(s), "
        f"{result.rows:,} row(s) into ml.online_requests"
        + (f"; {result.bad_lines} unreadable line(s) skipped" if result.bad_lines else "")
    )


def scaffold(project: Project, args: argparse.Namespace) -> None:
    """`scorehouse scaffold`: a user's table to a registry model (python_scoring.scaffold)."""
    from python_scoring.files import ReadOptions
    from python_scoring.scaffold import Request
    from python_scoring.scaffold import scaffold as build

    options = ReadOptions(args.delimiter, args.encoding, args.sheet, args.header)
    request = Request(
        name=args.name,
        origin=args.origin,
        id_column=args.id_column,
        label=args.label,
        exclude=tuple(c.strip() for item in args.exclude for c in item.split(",") if c.strip()),
        month_column=args.month_column,
        row_id=args.row_id,
        test=args.test,
        force=args.force,
        search_auto=args.search_auto,
        options=options,
    )
    done = build(project, request)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(done.kinds.items()))
    test = f", {done.test_rows} test rows" if done.test_rows else ""
    print(f"{args.name}: {done.rows} rows ({done.positives} positive{test}); columns: {kinds}")
    if done.left_out:
        print(f"  left out: {', '.join(done.left_out)}")
    for path in done.files:
        print(f"  wrote {path.relative_to(project.project_dir)}")
    print(
        f"next: scorehouse train --model {args.name}; scorehouse score --model {args.name}; "
        f"scorehouse export --model {args.name} --output {args.name}_scores.csv"
    )


def export(project: Project, model: str, month: dt.date | None, output: Path) -> None:
    """`scorehouse export`: one model's scores of a month (default: its latest scored
    month) to a CSV or parquet file, ranked, with deciles and reasons."""
    from python_scoring.scoring.export import export_scores

    (spec,) = select_models(project, model)
    with Warehouse.connect(project) as wh:
        done = export_scores(project, wh, spec, output, month)
    print(f"{spec.name}: {done.rows} scores of {done.month} (version {done.version}) -> {output}")


def evaluate_on(project: Project, wh: Warehouse, spec: ModelSpec, on: str, name: str | None = None):
    """The latest verified version of `spec` scored on `on` (a file, or a relation) and
    recorded (training/evaluate.py)."""
    from python_scoring.load import read_table
    from python_scoring.scoring.score import verified_artifact
    from python_scoring.training import evaluate as judge

    artifact, pipeline, _ = verified_artifact(project, wh, spec, None)
    features = list(artifact.metadata["features"])
    if judge.is_file(on):
        rows = judge.from_file(read_table(Path(on)), Path(on), spec, features)
    else:
        rows = judge.from_relation(project, wh, spec, features, on)
    return judge.evaluate_model(project, wh, spec, artifact, pipeline, rows, name)


def evaluate(project: Project, model: str, on: str, name: str | None = None) -> None:
    """Score other labelled rows (a relation or a file) with the model's latest trained
    version; print and record the metrics (ml.model_metrics, split evaluate:NAME)."""
    from python_scoring.training.report import format_metrics

    (spec,) = select_models(project, model)
    with Warehouse.connect(project) as wh:
        result = evaluate_on(project, wh, spec, on, name)
    m = result.metrics
    print(
        f"{spec.name} {result.version} on {result.split.removeprefix('evaluate:')}: AUC "
        f"{m['auc']:.4f} KS {m['ks']:.4f} Gini {m['gini']:.4f} lift@10% {m['lift_top10']:.2f} "
        f"({m['rows']:,.0f} rows; recorded as split {result.split})"
    )
    print(format_metrics({result.split: m}, spec.threshold))
