"""The `scorehouse` command line.

Every failure the user can fix (missing manifest, unknown model, month not in the data,
tampered artifact, ...) is a ScorehouseError, printed as one line on stderr with exit
status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from python_scoring.errors import ScorehouseError
from python_scoring.jobs import BANK_JOB_NAMES
from python_scoring.project import Project
from python_scoring.registry import DEFAULT_DOMAIN, DOMAINS

log = logging.getLogger("python_scoring")


def _month(text: str) -> dt.date:
    try:
        value = dt.date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM or YYYY-MM-01): {text}") from exc
    if value.day != 1:
        raise argparse.ArgumentTypeError(f"a month is the first day of a month, got {text}")
    return value


def _domain(text: str) -> str:
    """A domain is a snake_case name (it names selectors and folders): anything else,
    hostile strings included, is refused before it reaches dbt or SQL."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError(f"not a domain name (snake_case): {text!r}")
    return text


def _reading_options(command: argparse.ArgumentParser) -> None:
    """How to read a file: load's FILE, bank's --input/--related, scaffold's --from/--test."""
    command.add_argument(
        "--delimiter",
        help="field separator of a text file: one character, e.g. ';' or '|', or '\\t' "
        "for a tab (default: detected among , ; tab |; a ';' file's decimal commas are "
        "read as numbers)",
    )
    command.add_argument(
        "--encoding",
        help="text encoding, e.g. gbk, gb18030, utf-16, latin-1 (default: UTF-8, else "
        "GB18030 when the file decodes as Chinese text)",
    )
    command.add_argument("--sheet", help="the workbook sheet to read (default: the first)")
    command.add_argument(
        "--no-header",
        dest="header",
        action="store_const",
        const=False,
        help="the file has no header row: its columns are the ones the dbt source "
        "declares, in order (the default for .del files)",
    )


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
        "--domain", choices=DOMAINS, default=DEFAULT_DOMAIN, help="operator (telco) or bank data"
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

    load = sub.add_parser(
        "load",
        help="load a file (CSV, .del, .xlsx) into a table a dbt source declares; the table "
        "is replaced only when the file has every column the source declares",
    )
    load.add_argument("table", help="source.table, as declared in a dbt sources YAML")
    load.add_argument(
        "file",
        type=Path,
        help="CSV/TSV text with a header row (UTF-8, or GBK/GB18030), a headerless DB2 .del "
        "export (columns in the source's declared order) or an .xlsx/.xls/.ods workbook; "
        "English headers become snake_case, Chinese ones the source's columns (meta zh)",
    )

    train = sub.add_parser("train", help="train registry models on their dbt training sets")
    score = sub.add_parser("score", help="score a month and write ml.model_scores")
    for command in (train, score):
        command.add_argument(
            "--model", help="one registry model (default: every enabled model of --domain)"
        )
        command.add_argument(
            "--domain",
            type=_domain,
            default=DEFAULT_DOMAIN,
            help="telco, bank, or a scaffolded table's name",
        )
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
    bank.add_argument(
        "--input",
        type=Path,
        required=True,
        help="CSV with a header row (English or the bank's Chinese headers; UTF-8 or GBK), "
        "a headerless DB2 .del export or an .xlsx workbook",
    )
    bank.add_argument("--related", type=Path, help="potential: registration details, the same")
    bank.add_argument(
        "--output",
        type=Path,
        required=True,
        help="result CSV file (its directory must exist; written when complete)",
    )
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
    cycle = sub.add_parser(
        "run",
        help="a domain's monthly cycle in one process: dbt build of the features, train "
        "(models without a trained version, or all with --train), score, rules, dbt build "
        "of the marts",
    )
    cycle.add_argument(
        "--domain",
        type=_domain,
        default=DEFAULT_DOMAIN,
        help="telco, bank, or a scaffolded table's name",
    )
    cycle.add_argument(
        "--month",
        type=_month,
        help="month to score (dbt var score_month; default: the latest month in the data)",
    )
    cycle.add_argument(
        "--train", action="store_true", help="train every enabled model anew before scoring"
    )
    cycle.add_argument(
        "--no-marts", action="store_true", help="stop after scoring and rules (no marts build)"
    )
    cycle.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="N",
        help="first score the N months before --month as monthly runs would have (the first "
        "of them trains): monitoring then has months to compare",
    )
    cycle.add_argument(
        "--report",
        type=Path,
        default=Path("report.html"),
        metavar="FILE",
        help="the HTML report written at the end (default: report.html)",
    )
    cycle.add_argument("--no-report", action="store_true", help="write no report")
    report = sub.add_parser(
        "report",
        help="one self-contained HTML file with plots: models, monitoring, features, bank "
        "(from marts and ml.* metadata only)",
    )
    report.add_argument(
        "--domain", type=_domain, help="one domain (default: every domain in the warehouse)"
    )
    report.add_argument(
        "--month", type=_month, help="as of this month (default: everything the warehouse holds)"
    )
    report.add_argument(
        "--output", type=Path, default=Path("report.html"), metavar="FILE", help="report.html"
    )

    scaffold = sub.add_parser(
        "scaffold",
        help="a table of your own (file or warehouse table) to a trained-ready registry "
        "model: dbt source, staging, features, training set, scoring input, registry entry "
        "(docs/own_data.md)",
    )
    scaffold.add_argument("name", help="the model's name, e.g. telco_own (names every file)")
    scaffold.add_argument(
        "--from",
        dest="origin",
        metavar="FILE_OR_TABLE",
        required=True,
        help="a CSV/TSV/xlsx file, or source.table / schema.table",
    )
    scaffold.add_argument(
        "--id", dest="id_column", metavar="COLUMN", help="the customer id column (unique)"
    )
    scaffold.add_argument(
        "--row-id", action="store_true", help="a file without an id: number its rows (row_id)"
    )
    scaffold.add_argument(
        "--label",
        required=True,
        metavar="COLUMN[=VALUE]",
        help="the label column, with its positive value unless it is 0/1 or a boolean "
        "(Yes/No, True/False, VRAI/FAUX, ...): e.g. --label Churn=Yes",
    )
    scaffold.add_argument(
        "--exclude",
        action="append",
        metavar="COLUMNS",
        default=[],
        help="a column to leave out (repeatable, or comma-separated)",
    )
    scaffold.add_argument(
        "--month",
        dest="month_column",
        metavar="COLUMN",
        help="a month column: a monthly model (out-of-time "
        "evaluation); without it the table is a snapshot, evaluated by 5-fold cross-validation",
    )
    scaffold.add_argument(
        "--test",
        metavar="FILE",
        help="a second file (same columns): evaluated as the test set, never trained on",
    )
    scaffold.add_argument(
        "--search-auto",
        action="store_true",
        help="registry search: auto (compare algorithm families)",
    )
    scaffold.add_argument(
        "--force", action="store_true", help="overwrite the files of a previous scaffold"
    )
    for command in (load, bank, scaffold):
        _reading_options(command)

    export = sub.add_parser(
        "export",
        help="one model's scores of a month to a CSV or parquet file: id, score, rank, "
        "decile, reasons with their values and contributions",
    )
    export.add_argument("--model", required=True, help="a registry model")
    export.add_argument(
        "--month", type=_month, help="scored month (default: the model's latest scored month)"
    )
    export.add_argument(
        "--output",
        type=Path,
        required=True,
        help="FILE.csv (UTF-8) or FILE.parquet, in an existing directory (written when complete)",
    )

    judge = sub.add_parser(
        "evaluate",
        help="score other labelled rows with a model's latest trained version: AUC, KS, "
        "Gini, lift, recorded in ml.model_metrics (split evaluate:NAME)",
    )
    judge.add_argument("--model", required=True, help="a registry model")
    judge.add_argument(
        "--on",
        required=True,
        help="a dbt model's name, source.table, schema.table, or a file (CSV, .xlsx, ...) "
        "holding the model's input features and its label (0/1 or booleans)",
    )
    judge.add_argument(
        "--name",
        help="the split's name in ml.model_metrics: evaluate:NAME (default: --on, "
        "or the file's name without its extension)",
    )

    snapshot = sub.add_parser(
        "snapshot",
        help="export what `scorehouse serve` serves (verified versions, the latest scoring "
        "input, batch and composite scores) as files; the monthly run writes one",
    )
    snapshot.add_argument(
        "--domain", type=_domain, default=DEFAULT_DOMAIN, help="telco, bank, or own table"
    )
    serve = sub.add_parser(
        "serve",
        help="the online scoring service (HTTP, OpenAPI at /docs) on the domain's snapshot",
    )
    serve.add_argument(
        "--domain", type=_domain, default=DEFAULT_DOMAIN, help="telco, bank, or own table"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes (default: 1; about one per core)"
    )
    serve.add_argument(
        "--spool",
        type=Path,
        help="request log directory (default: $SCOREHOUSE_SPOOL, else <project>/spool)",
    )
    serve.add_argument(
        "--spool-fsync",
        action="store_true",
        help="fsync every request line (survives power loss; ~0.1-0.3 ms per request)",
    )
    serve.add_argument(
        "--no-compile",
        action="store_true",
        help="predict with LightGBM itself instead of the lleaves-compiled trees",
    )
    ingest = sub.add_parser(
        "ingest-requests",
        help="load the service's request log into ml.online_requests (then build the marts)",
    )
    ingest.add_argument("--spool", type=Path, help="request log directory (as for serve)")

    forget = sub.add_parser(
        "forget",
        help="the right to erasure: suppress ids in every later build and delete their rows "
        "from every table now, in one transaction (docs/privacy.md)",
    )
    forget.add_argument("ids", nargs="*", help="the ids to erase (phone numbers, customer ids)")
    forget.add_argument("--file", type=Path, help="more ids, one per line (UTF-8)")
    forget.add_argument("--reason", help="why (a ticket number; kept with the request)")
    inventory = sub.add_parser(
        "privacy-inventory",
        help="the classified source columns and the models built from them (Markdown)",
    )
    inventory.add_argument("--output", type=Path, help="write it here (default: print it)")
    sub.add_parser("check", help="validate the registry and list its models")
    summary = sub.add_parser(
        "summary",
        help="per domain: each model's table rows and latest run, rule sets; top composite scores",
    )
    summary.add_argument("--domain", type=_domain, help="one domain (default: every domain)")
    return parser


def _bank_job(args: argparse.Namespace) -> None:
    from python_scoring.files import ReadOptions
    from python_scoring.jobs.bank_files import run_job

    inputs = {"input": args.input, "related": args.related}
    rows = run_job(
        args.project_dir,
        args.job,
        inputs,
        args.output,
        args.workdir,
        retrain=args.retrain,
        baskets=args.baskets,
        options=ReadOptions(args.delimiter, args.encoding, args.sheet, args.header),
    )
    print(f"bank {args.job}: {rows} rows written to {args.output}")


def _forget(project: Project, args: argparse.Namespace) -> None:
    from python_scoring.jobs.forget import forget, read_ids

    ids = read_ids(args.ids, args.file)
    deleted = forget(project, ids, args.reason)
    print(
        f"forget: {len(ids)} id(s) suppressed; {sum(deleted.values())} row(s) deleted from "
        f"{len(deleted)} table(s)"
    )


def _privacy_inventory(project: Project, args: argparse.Namespace) -> None:
    from python_scoring.privacy import inventory

    text = inventory(project.manifest)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"privacy-inventory: written to {args.output}")


def _logged_words(args: argparse.Namespace, words: list[str]) -> str:
    """The command line for the run log and ml.audit_log, without customer ids (forget's
    arguments)."""
    if args.command != "forget" or not args.ids:
        return " ".join(words)
    ids = set(args.ids)
    return " ".join("<id>" if word in ids else word for word in words)


def _commands() -> dict[str, Callable[[Project, argparse.Namespace], None]]:
    """Each command: one call (python_scoring.jobs)."""
    from python_scoring.jobs import steps
    from python_scoring.jobs.cycle import run_cycle

    return {
        "check": lambda p, a: steps.check(p),
        "generate": lambda p, a: steps.generate(
            p,
            a.domain,
            subscribers=a.subscribers,
            corporate=a.corporate,
            retail=a.retail,
            months=a.months,
            start_month=a.start_month,
            seed=a.seed,
            drift_month=a.drift_month,
            csv_dir=a.csv_dir,
        ),
        "load": lambda p, a: steps.load(
            p, a.table, a.file, a.delimiter, a.encoding, a.sheet, a.header
        ),
        "train": lambda p, a: steps.train(p, a.model, a.domain, verbose=not a.quiet),
        "score": lambda p, a: steps.score(
            p,
            a.model,
            a.domain,
            a.month,
            a.version,
            a.n_reasons,
            a.pieces,
            progress=not a.quiet,
            compile_trees=not a.no_compile,
        ),
        "rules": lambda p, a: steps.rules(p, [a.rule_set]),
        "evaluate": lambda p, a: steps.evaluate(p, a.model, a.on, a.name),
        "scaffold": steps.scaffold,
        "clean": lambda p, a: steps.clean(p, a.keep, a.model),
        "summary": lambda p, a: steps.summary(p, [a.domain] if a.domain else None),
        "export": lambda p, a: steps.export(p, a.model, a.month, a.output),
        "forget": _forget,
        "privacy-inventory": _privacy_inventory,
        "run": lambda p, a: run_cycle(
            p,
            a.domain,
            a.month,
            train=a.train,
            marts=not a.no_marts,
            quiet=a.quiet,
            summary=not (a.quiet or a.no_marts),
            history=a.history,
            report=None if a.no_report or a.no_marts else a.report,
        ),
        "report": lambda p, a: steps.report(p, a.output, [a.domain] if a.domain else None, a.month),
        "snapshot": lambda p, a: steps.snapshot(p, a.domain),
        "serve": lambda p, a: steps.serve(
            p, a.domain, a.host, a.port, a.workers, a.spool, a.spool_fsync, not a.no_compile
        ),
        "ingest-requests": lambda p, a: steps.ingest_requests(p, a.spool),
    }


# Commands that read dbt's manifest as they start (generate, load and run parse it themselves
# when they need it: generate --csv-dir needs no project).
_READ_THE_MANIFEST = {
    "check",
    "privacy-inventory",
    "forget",
    "train",
    "score",
    "rules",
    "clean",
    "summary",
    "export",
    "evaluate",
    "report",
    "snapshot",
    "ingest-requests",
}


def run(args: argparse.Namespace) -> None:
    if args.command == "bank":  # its own work directory, warehouse and profile
        _bank_job(args)
        return
    project = Project(args.project_dir, args.profiles_dir, args.target, args.target_path)
    if args.command in _READ_THE_MANIFEST:
        from python_scoring.dbt_runner import ensure_manifest

        ensure_manifest(project)  # never act on a registry or source dbt has not parsed
    _commands()[args.command](project, args)


class _JsonLines(logging.Formatter):
    """One JSON object per log record: the structured run log."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "elapsed_s": round(record.relativeCreated / 1000, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _run_log(args: argparse.Namespace) -> logging.Handler:
    """A file handler for this run: $SCOREHOUSE_LOG_DIR or <project>/logs, one JSON-lines
    file per invocation, INFO and above whatever the console shows."""
    directory = Path(os.environ.get("SCOREHOUSE_LOG_DIR", Path(args.project_dir) / "logs"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(directory / f"scorehouse-{args.command}-{stamp}.jsonl")
    except OSError as exc:
        raise ScorehouseError(
            f"cannot write the run log in {directory} ({exc.strerror}): set "
            "SCOREHOUSE_LOG_DIR to a writable directory"
        ) from exc
    handler.setFormatter(_JsonLines())
    handler.setLevel(logging.INFO)
    return handler


# the commands that read or write customer data: each leaves a row in ml.audit_log
_AUDITED = {
    "generate",
    "load",
    "train",
    "score",
    "rules",
    "evaluate",
    "scaffold",
    "export",
    "forget",
    "run",
    "snapshot",
    "ingest-requests",
    "summary",
    "report",
}
_OUTCOMES = {0: "ok", 2: "error", 130: "interrupted", 1: "failed"}


def _audit(
    args: argparse.Namespace,
    words: str,
    started: dt.datetime,
    status: int,
    message: str | None,
    seconds: float,
) -> None:
    """Append the command's row to ml.audit_log (docs/privacy.md). A warehouse without the
    table (never built by dbt) or unreachable is left alone, with a line in the run log."""
    if args.command not in _AUDITED:
        return
    from python_scoring import contract
    from python_scoring.warehouse import Warehouse

    row = {
        "started_at": started,
        "os_user": getpass.getuser(),
        "host": socket.gethostname(),
        "command": args.command,
        "arguments": words,
        "outcome": _OUTCOMES.get(status, "failed"),
        "message": message,
        "duration_s": round(seconds, 3),
    }
    try:
        project = Project(args.project_dir, args.profiles_dir, args.target, args.target_path)
        audit_log = project.source("ml", "audit_log")
        with Warehouse.connect(project) as wh:
            if wh.exists(audit_log):
                wh.append(audit_log, contract.table("audit_log", [row]))
                return
        log.info("audit: %s does not exist yet (dbt creates it); not recorded", audit_log)
    except Exception as exc:  # never turns the command's own outcome into another
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        log.warning("audit: not recorded in ml.audit_log (%s)", first)


def _failed(clock: float, message: str, status: int) -> int:
    """The one way a command fails: one line on stderr (and in the run log), an exit status:
    2 for what the user can fix, 130 when interrupted, 1 for a bug."""
    log.info("failed after %.1fs: %s", time.perf_counter() - clock, message)
    print(f"scorehouse: {'' if status == 130 else 'error: '}{message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        file_log = _run_log(args)
    except ScorehouseError as exc:
        print(f"scorehouse: error: {exc}", file=sys.stderr)
        return 2
    log.setLevel(logging.INFO)
    log.addHandler(console)
    log.addHandler(file_log)
    log.propagate = False
    clock = time.perf_counter()
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    words = _logged_words(args, list(argv) if argv is not None else sys.argv[1:])
    log.info("scorehouse %s started: %s", args.command, words)
    status, message = 0, None
    try:
        run(args)
        log.info("finished in %.1fs", time.perf_counter() - clock)
    except ScorehouseError as exc:
        status, message = 2, str(exc)
    except KeyboardInterrupt:
        # locks and transactions were released on the way out; committed pieces stay
        status, message = 130, "interrupted (what was committed stays; rerun to go on)"
    except OSError as exc:  # a full disk, a read-only directory, a file that vanished
        where = f": {exc.filename}" if exc.filename else ""
        status, message = 2, f"{exc.strerror or exc}{where}"
    except Exception as exc:  # a bug: one line here, the traceback in the run log
        log.removeHandler(console)  # the traceback goes to the run log only
        log.exception("internal error")
        first = (str(exc).strip().splitlines() or [""])[0]
        status = 1
        message = (
            f"internal error ({type(exc).__name__}: {first}); please report it with the "
            f"traceback in {file_log.baseFilename}"
        )
    try:
        _audit(args, words, started, status, message, time.perf_counter() - clock)
        return _failed(clock, message, status) if status else 0
    finally:
        log.removeHandler(console)
        log.removeHandler(file_log)
        file_log.close()


if __name__ == "__main__":
    sys.exit(main())
