"""The bank jobs on PostgreSQL and on Spark give what they give on DuckDB (same generated
data, each engine runs dbt, trains, scores and mines on its own): labels, holdings,
clustering fields, clusters, rules and the four marts (bank_parity.assert_bank_parity).
A missing server or JVM fails these tests; it never skips them."""

from __future__ import annotations

import pytest

from .bank_parity import CORPORATE, MONTHS, RETAIL, assert_bank_parity
from .conftest import Built, make_warehouse, postgres_database


@pytest.fixture(scope="module")
def bank_duckdb(tmp_path_factory) -> Built:
    return make_warehouse(tmp_path_factory.mktemp("bank_duckdb")).bank_run(
        CORPORATE, RETAIL, MONTHS
    )


@pytest.mark.postgres
@pytest.mark.e2e
def test_bank_jobs_on_postgres_match_duckdb(bank_duckdb, postgres_server, tmp_path):
    env = postgres_database(postgres_server, "bank")
    pg = make_warehouse(tmp_path / "pg", "postgres", **env).bank_run(CORPORATE, RETAIL, MONTHS)
    assert_bank_parity(bank_duckdb, pg)


@pytest.mark.spark
@pytest.mark.e2e
def test_bank_jobs_on_spark_match_duckdb(bank_duckdb, tmp_path):
    spark = make_warehouse(tmp_path / "spark", "spark_local").bank_run(CORPORATE, RETAIL, MONTHS)
    assert_bank_parity(bank_duckdb, spark)
