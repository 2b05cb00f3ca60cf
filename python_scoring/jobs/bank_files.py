"""File in, file out: the bank team's four jobs without a warehouse of their own.

`scorehouse bank <job> --input FILE [--related FILE] --output FILE` loads the input CSV
into an embedded DuckDB under a work directory (default `.scorehouse-bank/`), runs the same
dbt models and Python steps as a warehouse run (dbt in-process), and writes the job's mart
as CSV. The work directory keeps the warehouse, dbt's target, the logs and the trained
artifacts: a supervised job trains on its first run (or with --retrain) and later runs
score new files with that model, as the team's scripts did with their .pkl files.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pa_csv

from python_scoring.dbt_runner import dbt_vars, run_dbt
from python_scoring.errors import ScorehouseError
from python_scoring.load import read_csv
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
    ),
    "product-mining": Job(
        {"input": "retail_customers"}, "product_mining", order_by="item, customer_rank"
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
"""


def _dbt(project: Project, command: str, *args: str) -> None:
    run_dbt(project, command, *args, dbt_var=dbt_vars("bank"))


def _check_input(project: Project, source_table: str, path: Path) -> None:
    """The file has every column the dbt source declares (names in snake_case)."""
    declared = next(
        (
            list(node["columns"])
            for node in project.manifest["sources"].values()
            if node["source_name"] == "bank" and node["name"] == source_table
        ),
        [],
    )
    present = read_csv(path).column_names
    missing = [c for c in declared if c not in present]
    if missing:
        raise ScorehouseError(
            f"{path}: missing column(s) {', '.join(missing)} (bank.{source_table} needs "
            f"{', '.join(declared)})"
        )


def run_job(
    project_dir: Path,
    job_name: str,
    inputs: dict[str, Path],
    output: Path,
    workdir: Path,
    retrain: bool = False,
    baskets: bool = False,
) -> int:
    """Run one job end to end; returns the rows written to `output`."""
    from python_scoring.jobs.cycle import Selection, run_cycle
    from python_scoring.load import load_baskets, load_csv
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
        )
    elif baskets:
        raise ScorehouseError(f"--baskets is for cross-sell and product-mining, not {job_name}")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "profiles.yml").write_text(_PROFILE.format(path=workdir / "bank.duckdb"))
    project = Project(
        project_dir,
        profiles_dir=workdir,
        target="duckdb",
        target_path=workdir / "target",
        artifacts=workdir / "artifacts",
    )
    for option in job.inputs:
        if inputs.get(option) is None:
            raise ScorehouseError(f"bank {job_name} needs --{option}")
    clock = time.perf_counter()
    _dbt(project, "parse")
    with Warehouse.connect(project) as wh:
        for option, table in job.inputs.items():
            path = inputs[option]
            if table == "basket_items":
                rows = load_baskets(project, wh, path)
            else:
                _check_input(project, table, path)
                rows = load_csv(project, wh, f"bank.{table}", path)
            log.info("--%s %s: %d rows into bank.%s", option, path, rows, table)
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
        marts=(f"tag:bank_marts,+{job.mart}",),
    )
    run_cycle(project, "bank", train=retrain, quiet=True, selection=selection)
    with Warehouse.connect(project) as wh:
        relation = project.model(job.mart)
        where = f" where rule_set = {sql_literal(rule_set)}" if rule_set else ""
        table = wh.query_arrow(f"select * from {relation.sql}{where} order by {job.order_by}")
    if job.output_columns:
        table = table.select(list(job.output_columns))
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    pa_csv.write_csv(table, partial)
    os.replace(partial, output)  # never a half-written output file
    log.info(
        "%s: %d rows to %s in %.1fs", job_name, table.num_rows, output, time.perf_counter() - clock
    )
    return table.num_rows
