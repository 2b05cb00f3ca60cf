"""Synthetic data, out of the product's way: the telco operator generator (`telco`), the
bank generator (`bank`) and the loaders that replace a dbt source's raw tables with their
output (`scorehouse generate`). Planted structure, deterministic by seed: for demos, tests
and benchmarks, never for a user's own data (python_scoring.load)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.synthetic.bank import BANK_TABLES, BankConfig, generate_bank
from python_scoring.synthetic.telco import TABLE_SCHEMAS, GeneratorConfig, generate_telco
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)


def load_synthetic(project: Project, wh: Warehouse, config: GeneratorConfig) -> dict[str, int]:
    log.info(
        "generating %d subscribers x %d months from %s (seed %d)",
        config.n_subscribers,
        config.n_months,
        config.start_month,
        config.seed,
    )
    return load_generated(project, wh, "telco", TABLE_SCHEMAS, lambda: generate_telco(config))


def load_bank(project: Project, wh: Warehouse, config: BankConfig) -> dict[str, int]:
    log.info(
        "generating %d corporate customers x %d months and %d retail customers from %s (seed %d)",
        config.n_corporate,
        config.n_months,
        config.n_retail,
        config.start_month,
        config.seed,
    )
    return load_generated(project, wh, "bank", BANK_TABLES, lambda: generate_bank(config))


def load_generated(
    project: Project,
    wh: Warehouse,
    source: str,
    tables: Iterable[str],
    generate: Callable[[], Iterator[tuple[str, pa.Table]]],
) -> dict[str, int]:
    """Replace the tables of dbt source `source` with a generator's (table, chunk) pairs."""
    relations = project.source_tables(source)
    missing = sorted(set(tables) - set(relations))
    if missing:
        raise ScorehouseError(
            f"dbt source '{source}' does not declare table(s) {', '.join(missing)} "
            "that the generator writes"
        )
    clock = time.perf_counter()
    try:
        chunks = ((relations[name], chunk) for name, chunk in generate())
        rows = wh.replace_tables(chunks)
    except ValueError as exc:
        raise ScorehouseError(f"generator: {exc}") from exc
    for table, n in rows.items():
        log.info("%s: %d rows", table, n)
    log.info("generated in %.1fs", time.perf_counter() - clock)
    return rows
