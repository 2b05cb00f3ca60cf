"""File in, file out: the bank team's four jobs without a warehouse of their own.

`scorehouse bank <job> --input FILE [--related FILE] --output FILE` loads the input file
(CSV in UTF-8 or GBK, a headerless DB2 `.del` export or an `.xlsx` workbook; English or the
bank team's Chinese headers: python_scoring.load) into an embedded DuckDB under a work
directory (default `.scorehouse-bank/`), runs the same dbt models and Python steps as a
warehouse run (dbt in-process), and writes the job's mart as CSV. The work directory
keeps the warehouse, dbt's target, the logs and the trained artifacts: a supervised job
trains on its first run (or with --retrain) and later runs score new files with that
model, as the team's scripts did with their .pkl files. The --output path is checked
before any work, and the file appears only when complete.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from python_scoring.dbt_runner import dbt_vars, run_dbt
from python_scoring.errors import ScorehouseError
from python_scoring.files import ReadOptions, check_file
from python_scoring.privacy import SALT_ENV
from python_scoring.project import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    inputs: dict[str, str]  # --input / --related -> bank source table
    mart: str
    model: str | None = None  # the registry model it trains and scores
    rule_set: str | None = None  # the rule set it mines
    order_by: str = "1"
    output_columns: tuple[str, ...] | None = None  # None: every column of the mart
    # the mart's pseudonymous key column: the file gets the clear id in its place, as
    # `<key>_id` (customer_key -> customer_id), mapped through restricted.customer_keys
    key: str = "customer_key"


_CROSS_SELL_TABLE = {"retail_products": "retail_customers", "baskets": "basket_items"}
JOBS = {  # keys: python_scoring.jobs.BANK_JOB_NAMES
    "churn-warning": Job(
        {"input": "corporate_monthly"},
        "corporate_churn_warnings",
        model="corporate_churn_lgbm",
        order_by="score desc, customer_id",
    ),
    "potential": Job(
        {"input": "corporate_monthly", "related": "corporate_registrations"},
        "potential_customers_guangdong",
        model="corporate_potential_lgbm",
        order_by="customer_id",
        output_columns=("customer_id",),
    ),
    "cross-sell": Job(
        {"input": "retail_customers"},
        "cross_sell_recommendations",
        order_by="entity_id, recommendation_rank",
        key="entity_key",
    ),
    "product-mining": Job(
        {"input": "retail_customers"},
        "product_mining",
        order_by="item, customer_rank",
        key="entity_key",
    ),
}

_PROFILE = """\
# written by `scorehouse bank`: the embedded DuckDB of this work directory
scorehouse:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: "{path}"
      threads: 2
      settings:
        memory_limit: "4GB"
      plugins:
        - module: python_scoring.warehouse.duckdb_privacy
"""


def _dbt(project: Project, command: str, *args: str) -> None:
    run_dbt(project, command, *args, dbt_var=dbt_vars("bank"))


def check_output(output: Path, inputs: dict[str, Path | None]) -> None:
    """Before any work: `output` can be written as a file (not a directory, its directory
    exists and takes a new file) and is none of the inputs."""
    if output.is_dir():
        raise ScorehouseError(
            f"--output {output} is a directory; give a file name, e.g. {output / 'result.csv'}"
        )
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.exists():
        raise ScorehouseError(
            f"--output {output}: its directory {parent} does not exist; create it first "
            f"(mkdir -p {parent})"
        )
    if not parent.is_dir():
        raise ScorehouseError(f"--output {output}: {parent} is not a directory")
    for option, path in inputs.items():
        if path is not None and path.exists() and output.exists() and output.samefile(path):
            raise ScorehouseError(
                f"--output {output} is the --{option} file; write the result to another file"
            )
    try:  # the write that ends the job must not be the first to find a read-only directory
        probe, name = tempfile.mkstemp(dir=parent, prefix=f".{output.name}.", suffix=".probe")
        os.close(probe)
        os.unlink(name)
    except OSError as exc:
        raise ScorehouseError(
            f"--output {output}: cannot write in {parent} ({exc.strerror}); choose a "
            f"writable directory"
        ) from exc


def _write_output(table: pa.Table, output: Path) -> None:
    """Written to a temporary name and renamed when complete: never a half-written output
    file, and no temporary file left behind whatever happens."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        pa_csv.write_csv(table, partial)
        os.replace(partial, output)
    except OSError as exc:
        raise ScorehouseError(
            f"--output {output}: cannot write it ({exc.strerror}); nothing was written"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)


def run_job(
    project_dir: Path,
    job_name: str,
    inputs: dict[str, Path],
    output: Path,
    workdir: Path,
    retrain: bool = False,
    baskets: bool = False,
    options: ReadOptions | None = None,
) -> int:
    """Run one job end to end; returns the rows written to `output`. `options` say how to
    read the input files (delimiter, encoding, workbook sheet, header)."""
    from python_scoring.jobs.cycle import Selection, run_cycle
    from python_scoring.load import load_baskets, read_table, source_table
    from python_scoring.mining.rules import select_rule_set
    from python_scoring.registry import select_models
    from python_scoring.warehouse import Warehouse, sql_literal

    job = JOBS[job_name]
    rule_set = None
    if job.model is None:
        rule_set = "baskets" if baskets else "retail_products"
        job = Job(
            {"input": _CROSS_SELL_TABLE[rule_set]},
            job.mart,
            rule_set=rule_set,
            order_by=job.order_by,
            key=job.key,
        )
    elif baskets:
        raise ScorehouseError(f"--baskets is for cross-sell and product-mining, not {job_name}")
    for option in job.inputs:
        if inputs.get(option) is None:
            raise ScorehouseError(f"bank {job_name} needs --{option}")
        check_file(inputs[option])  # a missing or empty file before any work
    check_output(output, inputs)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # the marts' pseudonymous keys live only inside this run (the file gets clear ids):
    # without a salt of the user's, a random one serves (python_scoring.privacy)
    if not os.environ.get(SALT_ENV):
        os.environ[SALT_ENV] = secrets.token_urlsafe(24)
    (workdir / "profiles.yml").write_text(_PROFILE.format(path=workdir / "bank.duckdb"))
    project = Project(
        project_dir,
        profiles_dir=workdir,
        target="duckdb",
        target_path=workdir / "target",
        artifacts=workdir / "artifacts",
    )
    clock = time.perf_counter()
    _dbt(project, "parse")
    with Warehouse.connect(project, create=True) as wh:  # the work directory's own DuckDB
        if "basket_items" in job.inputs.values():
            rows = load_baskets(project, wh, inputs["input"], options)
            log.info("--input %s: %d basket items into bank.basket_items", inputs["input"], rows)
        else:  # every file read and checked against its bank source before any is loaded
            loaded = []
            for option, table in job.inputs.items():
                source = source_table(project, f"bank.{table}")
                loaded.append((source.relation, read_table(inputs[option], options, source)))
                log.info(
                    "--%s %s: %d rows for bank.%s",
                    option,
                    inputs[option],
                    len(loaded[-1][1]),
                    table,
                )
            wh.replace_tables(loaded)
    if job.model:
        spec = select_models(project, job.model)[0]
        upstream = (f"+{spec.training_set}", f"+{spec.scoring_input}")
    else:
        spec = select_rule_set(project, rule_set)
        upstream = (f"+{spec.items_input}",) + (
            (f"+{spec.cluster_input}",) * bool(spec.cluster_input)
        )
    # the monthly cycle on this job's models: train on first use (or --retrain), score or
    # mine, then the mart and the intermediate bank models it reads (cross-sell candidates)
    selection = Selection(
        features=upstream,
        models=(job.model,) if job.model else (),
        rule_sets=() if job.model else (rule_set,),
        marts=(f"tag:bank_marts,+{job.mart}", "customer_keys"),
    )
    run_cycle(project, "bank", train=retrain, quiet=True, selection=selection)
    with Warehouse.connect(project) as wh:
        relation, keys = project.model(job.mart), project.model("customer_keys")
        where = f" where m.rule_set = {sql_literal(rule_set)}" if rule_set else ""
        masked = job.key.replace("_key", "_masked")
        # the mart as BI sees it, its key replaced by the clear id: the file is the bank
        # team's own campaign list (docs/privacy.md, "Two audiences")
        table = wh.query_arrow(
            f"select k.entity_id as {job.key.replace('_key', '_id')}, "
            f"m.* exclude ({job.key}, {masked}) from {relation.sql} as m "
            f"inner join {keys.sql} as k on m.{job.key} = k.entity_key{where} "
            f"order by {job.order_by}"
        )
    if job.output_columns:
        table = table.select(list(job.output_columns))
    _write_output(table, output)
    log.info(
        "%s: %d rows to %s in %.1fs", job_name, table.num_rows, output, time.perf_counter() - clock
    )
    return table.num_rows
