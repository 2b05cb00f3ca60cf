"""The bank jobs on PostgreSQL give what they give on DuckDB (same generated data, each
engine runs dbt, trains, scores and mines on its own): labels, holdings, clustering fields,
clusters, rules and the four marts (bank_parity.assert_bank_parity). On Spark the same
check runs in the parity warehouse of test_engine_spark.py. A missing server fails this
test; it never skips it."""

from __future__ import annotations

import pytest

from .bank_parity import CORPORATE, MONTHS, RETAIL, assert_bank_parity
from .conftest import make_warehouse, postgres_database


@pytest.mark.postgres
@pytest.mark.e2e
def test_bank_jobs_on_postgres_match_duckdb(bank_duckdb, postgres_server, tmp_path):
    env = postgres_database(postgres_server, "bank")
    pg = make_warehouse(tmp_path / "pg", "postgres", **env).bank_run(CORPORATE, RETAIL, MONTHS)
    assert_bank_parity(bank_duckdb, pg)
