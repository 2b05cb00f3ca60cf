"""A warehouse created by an older scorehouse (ml tables with fewer columns) gets the
contract's new columns on the next dbt invocation, rows kept."""

from __future__ import annotations

import duckdb
import pytest

from .conftest import make_warehouse

pytestmark = pytest.mark.e2e


def test_old_training_runs_table_gains_new_columns(tmp_path):
    built = make_warehouse(tmp_path / "old")
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"])
    con.execute("create schema ml")
    con.execute(
        "create table ml.training_runs (run_id varchar, model_name varchar, auc_oot double)"
    )
    con.execute("insert into ml.training_runs values ('r1', 'churn_lgbm', 0.8)")
    con.close()
    built.dbt("run", "--select", "dim_ml_models")
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    columns = {r[0] for r in con.execute("describe ml.training_runs").fetchall()}
    rows = con.execute("select run_id, auc_oot, sample_fraction from ml.training_runs").fetchall()
    con.close()
    assert {"sample_fraction", "cv_auc", "derived_features", "data_fingerprint"} <= columns
    assert rows == [("r1", 0.8, None)]
