"""The `scorehouse` command line.

Every failure the user can fix (missing manifest, unknown model, month not in the data,
tampered artifact, ...) is a ScorehouseError, printed as one line on stderr with exit
status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from python_scoring.errors import ScorehouseError
from python_scoring.jobs import BANK_JOB_NAMES
from python_scoring.project import Project
from python_scoring.registry import DOMAINS

log = logging.getLogger("python_scoring")


def _month(text: str) -> dt.date:
    try:
        value = dt.date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM or YYYY-MM-01): {text}") from exc
    if value.day != 1:
        raise argparse.ArgumentTypeError(f"a month is the first day of a month, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scorehouse", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="dbt project directory (default: current directory)",
    )
    parser.add_argument("--profiles-dir", type=Path, help="directory holding profiles.yml")
    parser.add_argument("--target", help="profile target (default: the profile's default)")
    parser.add_argument(
        "--target-path", type=Path, help="dbt target path holding manifest.json (default: target)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic data into the raw sources")
    gen.add_argument(
        "--domain", choices=DOMAINS, default="telco", help="operator (telco) or bank data"
    )
    gen.add_argument("--subscribers", type=int, default=50_000, help="telco subscribers")
    gen.add_argument("--corporate", type=int, default=5_000, help="bank corporate customers")
    gen.add_argument("--retail", type=int, default=20_000, help="bank retail customers")
    gen.add_argument("--months", type=int, help="months (default: telco 12, bank 6)")
    gen.add_argument(
        "--csv-dir",
        type=Path,
        help="bank: write the tables as CSV files here (the input of `scorehouse bank`) "
        "instead of loading them into the warehouse",
    )
    gen.add_argument("--start-month", type=_month, default=dt.date(2025, 1, 1))
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--drift-month", type=_month, help="inject a distribution drift from this month on"
    )

    load = sub.add_parser("load", help="load a CSV file into a table a dbt source declares")
    load.add_argument("table", help="source.table, as declared in a dbt sources YAML")
    load.add_argument("file", type=Path, help="CSV file, UTF-8, with a header row")
    load.add_argument("--delimiter", default=",")

    train = sub.add_parser("train", help="train registry models on their dbt training sets")
    score = sub.add_parser("score", help="score a month and write ml.model_scores")
    for command in (train, score):
        command.add_argument(
            "--model", help="one registry model (default: every enabled model of --domain)"
        )
        command.add_argument("--domain", choices=DOMAINS, default="telco")
    score.add_argument(
        "--month", type=_month, help="month to score (default: the month of the scoring input)"
    )
    score.add_argument("--version", help="artifact version (default: the latest)")
    score.add_argument(
        "--n-reasons", type=int, help="reason columns to fill (default: the registry's n_reasons)"
    )
    score.add_argument(
        "--pieces", type=int, help="pieces to score the population in (default: registry pieces)"
    )
    score.add_argument(
        "--no-compile",
        action="store_true",
        help="predict with LightGBM itself instead of the lleaves-compiled trees",
    )

    clean = sub.add_parser(
        "clean", help="delete old artifact versions (never the one that scored the latest month)"
    )
    clean.add_argument("--keep", type=int, default=3, help="newest versions to keep per model")
    clean.add_argument("--model", help="one registry model (default: every model)")

    rules = sub.add_parser(
        "rules", help="cluster a rule set's entities and mine association rules per cluster"
    )
    rules.add_argument("rule_set", help="a rule set of the registry (e.g. retail_products)")

    bank = sub.add_parser("bank", help="a bank job from files: CSV in, dbt + Python, CSV out")
    bank.add_argument("job", choices=BANK_JOB_NAMES)
    bank.add_argument("--input", type=Path, required=True, help="CSV file with a header row")
    bank.add_argument("--related", type=Path, help="potential: registration details CSV")
    bank.add_argument("--output", type=Path, required=True, help="result CSV file")
    bank.add_argument(
        "--workdir",
        type=Path,
        default=Path(".scorehouse-bank"),
        help="embedded warehouse, dbt target, logs and trained models (default: %(default)s)",
    )
    bank.add_argument("--retrain", action="store_true", help="train anew even if a model exists")
    bank.add_argument(
        "--baskets",
        action="store_true",
        help="cross-sell / product-mining: the input is one basket per line, items "
        "comma-separated, no header (e.g. groceries.csv); no clustering",
    )

    sub.add_parser("check", help="validate the registry and list its models")
    sub.add_parser("summary", help="print rows per layer, latest metrics and top scores")
    return parser


def run(args: argparse.Namespace) -> None:
    if args.command == "bank":
        from python_scoring.jobs.bank_files import run_job

        rows = run_job(
            args.project_dir,
            args.job,
            {"input": args.input, "related": args.related},
            args.output,
            args.workdir,
            retrain=args.retrain,
            baskets=args.baskets,
        )
        print(f"bank {args.job}: {rows} rows written to {args.output}")
        return
    project = Project(args.project_dir, args.profiles_dir, args.target, args.target_path)
    # imported here so `scorehouse --help` stays fast
    from python_scoring.registry import load_registry, select_models
    from python_scoring.warehouse import Warehouse

    if args.command == "check":
        for spec in load_registry(project).values():
            state = "enabled" if spec.enabled else "disabled"
            print(
                f"{spec.name}: {spec.domain} {spec.scenario}, {spec.algorithm}, weight "
                f"{spec.composite_weight}, {state}"
            )
        return
    if args.command == "generate":
        from python_scoring.synthetic import load_bank, load_synthetic
        from python_scoring.synthetic.bank import BankConfig
        from python_scoring.synthetic.telco import GeneratorConfig

        bank_config = BankConfig(
            n_corporate=args.corporate,
            n_months=args.months or 6,
            n_retail=args.retail,
            start_month=args.start_month,
            seed=args.seed,
        )
        if args.csv_dir:
            from python_scoring.synthetic.bank import write_csv_files

            if args.domain != "bank":
                raise ScorehouseError("--csv-dir is for --domain bank")
            for path, rows in write_csv_files(bank_config, args.csv_dir).items():
                print(f"{path}: {rows} rows")
            return
        with Warehouse.connect(project) as wh:
            if args.domain == "bank":
                load_bank(project, wh, bank_config)
                return
            config = GeneratorConfig(
                n_subscribers=args.subscribers,
                n_months=args.months or 12,
                start_month=args.start_month,
                seed=args.seed,
                drift_month=args.drift_month,
            )
            load_synthetic(project, wh, config)
        return
    if args.command == "rules":
        from python_scoring.mining.rules import run_rule_set, select_rule_set

        spec = select_rule_set(project, args.rule_set)
        with Warehouse.connect(project) as wh:
            result = run_rule_set(project, wh, spec)
        print(
            f"{result.rule_set}: {result.entities} entities in {result.clusters} cluster(s), "
            f"{result.rules} rules in {result.seconds:.1f}s"
        )
        return
    if args.command == "load":
        from python_scoring.load import load_csv

        with Warehouse.connect(project) as wh:
            rows = load_csv(project, wh, args.table, args.file, args.delimiter)
        print(f"{args.table}: {rows} rows from {args.file}")
        return
    if args.command == "clean":
        from python_scoring.artifacts import prune
        from python_scoring.scoring.score import latest_scoring_versions

        names = [args.model] if args.model else sorted(load_registry(project))
        if args.model:
            select_models(project, args.model)  # unknown names fail with the usual message
        with Warehouse.connect(project) as wh:
            protected = latest_scoring_versions(project, wh)
        for name in names:
            deleted = prune(project.artifacts_dir, name, args.keep, protected.get(name, set()))
            kept = ", ".join(sorted(protected.get(name, set()))) or "none"
            print(
                f"{name}: deleted {len(deleted)} (kept the newest {args.keep} and the "
                f"version that scored the latest month: {kept})"
            )
            for path in deleted:
                log.info("deleted %s", path)
        return
    if args.command == "summary":
        from python_scoring.jobs.summary import print_summary

        with Warehouse.connect(project) as wh:
            print_summary(project, wh)
        return

    specs = select_models(project, args.model, args.domain)
    with Warehouse.connect(project) as wh:
        if args.command == "train":
            from python_scoring.training.train import format_metrics, headline, train_model

            for spec in specs:
                result = train_model(project, wh, spec)
                print(f"{spec.name} {result.artifact.version}: {headline(result.metrics)}")
                if not args.quiet:
                    print(format_metrics(result.metrics, spec.threshold))
        elif args.command == "score":
            from python_scoring.scoring.score import score_model

            for spec in specs:
                result = score_model(
                    project,
                    wh,
                    spec,
                    args.month,
                    args.version,
                    args.n_reasons,
                    args.pieces,
                    progress=not args.quiet,
                    compile_trees=not args.no_compile,
                )
                print(
                    f"{spec.name} {result.version}: scored {result.rows} rows for "
                    f"{result.month} in {result.seconds:.1f}s"
                )


class _JsonLines(logging.Formatter):
    """One JSON object per log record: the structured run log."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                "elapsed_s": round(record.relativeCreated / 1000, 3),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def _run_log(args: argparse.Namespace) -> logging.Handler:
    """A file handler for this run: $SCOREHOUSE_LOG_DIR or <project>/logs, one JSON-lines
    file per invocation, INFO and above whatever the console shows."""
    directory = Path(os.environ.get("SCOREHOUSE_LOG_DIR", Path(args.project_dir) / "logs"))
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    handler = logging.FileHandler(directory / f"scorehouse-{args.command}-{stamp}.jsonl")
    handler.setFormatter(_JsonLines())
    handler.setLevel(logging.INFO)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console.setLevel(logging.WARNING if args.quiet else logging.INFO)
    file_log = _run_log(args)
    log.setLevel(logging.INFO)
    log.addHandler(console)
    log.addHandler(file_log)
    log.propagate = False
    clock = time.perf_counter()
    words = list(argv) if argv is not None else sys.argv[1:]
    log.info("scorehouse %s started: %s", args.command, " ".join(words))
    try:
        run(args)
        log.info("finished in %.1fs", time.perf_counter() - clock)
    except ScorehouseError as exc:
        log.info("failed after %.1fs: %s", time.perf_counter() - clock, exc)
        print(f"scorehouse: error: {exc}", file=sys.stderr)
        return 2
    finally:
        log.removeHandler(console)
        log.removeHandler(file_log)
        file_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
