"""Writes the synthetic operator data into the tables the dbt `telco` source declares."""

from __future__ import annotations

import logging
import time

from python_scoring.errors import ScorehouseError
from python_scoring.generate import TABLE_SCHEMAS, GeneratorConfig, generate_telco
from python_scoring.project import Project
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)
SOURCE = "telco"


def load_synthetic(project: Project, wh: Warehouse, config: GeneratorConfig) -> dict[str, int]:
    relations = project.source_tables(SOURCE)
    missing = sorted(set(TABLE_SCHEMAS) - set(relations))
    if missing:
        raise ScorehouseError(
            f"dbt source '{SOURCE}' does not declare table(s) {', '.join(missing)} "
            "that the generator writes"
        )
    clock = time.perf_counter()
    log.info(
        "generating %d subscribers x %d months from %s (seed %d)",
        config.n_subscribers,
        config.n_months,
        config.start_month,
        config.seed,
    )
    try:
        chunks = ((relations[name], chunk) for name, chunk in generate_telco(config))
        rows = wh.replace_tables(chunks)
    except ValueError as exc:
        raise ScorehouseError(f"generator: {exc}") from exc
    for table, n in rows.items():
        log.info("%s: %d rows", table, n)
    log.info("generated in %.1fs", time.perf_counter() - clock)
    return rows
