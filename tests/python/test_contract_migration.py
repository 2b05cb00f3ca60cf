"""A warehouse created by an older scorehouse (ml tables with fewer columns) gets the
contract's new columns on the next dbt invocation, rows kept: on DuckDB, PostgreSQL and
Spark, for training_runs and for model_scores from before the reason values and
contributions."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from python_scoring import contract

from .conftest import make_warehouse, pg_params, postgres_database, query
from .test_contract import contract_mismatches, spark_columns

pytestmark = pytest.mark.e2e

# ml.model_scores as scorehouse created it before reason values (5 reasons), and one row
_OLD_REASONS = [f"reason_{i}" for i in range(1, 6)]
_OLD_SCORES = ["model_name", "model_version", "score_month", "entity_id", "score"]
_OLD_SCORES += [*_OLD_REASONS, "scored_at"]
_OLD_ROW = ("churn_lgbm", "v1", "2025-10-01", "42", 0.75, "tenure", "plan", None, None, None)
_OLD_ROW += ("2025-10-20 10:00:00",)
_NEW = [c for c in contract.reason_columns(contract.MAX_REASONS) if c not in _OLD_REASONS]


def _old_scores_ddl(text: str, double: str, stamp: str, spark: bool = False) -> str:
    types = {"score": double, "score_month": "date", "scored_at": stamp}
    columns = ", ".join(f"{c} {types.get(c, text)}" for c in _OLD_SCORES)
    using = " using parquet partitioned by (model_name, score_month)" if spark else ""
    return f"create table ml.model_scores ({columns}){using}"


def _old_scores_insert() -> str:
    def literal(value):
        if value is None:
            return "null"
        return str(value) if isinstance(value, float) else f"'{value}'"

    values = [literal(v) for v in _OLD_ROW]
    values[2] = f"cast({values[2]} as date)"
    values[-1] = f"cast({values[-1]} as timestamp)"
    return f"insert into ml.model_scores ({', '.join(_OLD_SCORES)}) values ({', '.join(values)})"


def _check_old_row_kept(row: dict) -> None:
    assert row["entity_id"] == "42" and row["score"] == 0.75
    assert (row["reason_1"], row["reason_2"], row["reason_3"]) == ("tenure", "plan", None)
    assert str(row["score_month"]).startswith("2025-10-01")
    assert all(row[c] is None for c in _NEW)


def test_old_training_runs_table_gains_new_columns(tmp_path):
    built = make_warehouse(tmp_path / "old")
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"])
    con.execute("create schema ml")
    con.execute(
        "create table ml.training_runs (run_id varchar, model_name varchar, auc_oot double)"
    )
    con.execute("insert into ml.training_runs values ('r1', 'churn_lgbm', 0.8)")
    con.execute(_old_scores_ddl("varchar", "double", "timestamp"))
    con.execute(_old_scores_insert())
    con.close()
    built.dbt("run", "--select", "dim_ml_models")
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    columns = {r[0] for r in con.execute("describe ml.training_runs").fetchall()}
    rows = con.execute("select run_id, auc_oot, sample_fraction from ml.training_runs").fetchall()
    scores = con.execute("select * from ml.model_scores").df().to_dict("records")
    con.close()
    assert {"sample_fraction", "cv_auc", "derived_features", "data_fingerprint"} <= columns
    assert rows == [("r1", 0.8, None)]
    # model_scores: the reason values and contributions added after its old columns
    assert contract_mismatches(built, "duckdb", ["model_scores"]) == []
    assert len(scores) == 1
    _check_old_row_kept({k: (None if v != v else v) for k, v in scores[0].items()})


@pytest.mark.postgres
def test_old_model_scores_table_gains_reason_values_on_postgres(tmp_path, postgres_server):
    import psycopg2

    env = postgres_database(postgres_server, "migration")
    built = make_warehouse(tmp_path / "old", "postgres", **env)
    con = psycopg2.connect(**pg_params(built.env))
    with con, con.cursor() as cursor:
        cursor.execute("create schema ml")
        cursor.execute(_old_scores_ddl("text", "double precision", "timestamp"))
        cursor.execute(_old_scores_insert())
    con.close()
    built.dbt("run", "--select", "dim_ml_models", "--quiet")
    assert contract_mismatches(built, "postgres", ["model_scores"]) == []
    ((score_month,),) = query(built, "select score_month from ml.model_scores")
    assert score_month == dt.date(2025, 10, 1)
    names = [c for c in _OLD_SCORES if c != "score_month"] + _NEW
    (row,) = query(built, f"select {', '.join(names)} from ml.model_scores")
    _check_old_row_kept({**dict(zip(names, row, strict=True)), "score_month": score_month})


# run in a Spark warehouse's environment (Built.run_script): argv[2:] as SQL statements
_SPARK_SQL = """
import sys
from pathlib import Path
from python_scoring.project import Project
from python_scoring.warehouse import Warehouse

root = Path(sys.argv[1])
with Warehouse.connect(Project(Path.cwd(), root, None, root / "target")) as wh:
    for statement in sys.argv[2:]:
        wh.spark.sql(statement)
"""


@pytest.mark.spark
def test_old_model_scores_table_gains_reason_values_on_spark(tmp_path):
    built = make_warehouse(tmp_path / "old", "spark_local")
    ddl = _old_scores_ddl("string", "double", "timestamp", spark=True)
    statements = ["create schema if not exists ml", ddl, _old_scores_insert()]
    with built.hosted():  # one JVM for the three steps
        built.run_script(_SPARK_SQL, str(built.root), *statements)
        built.dbt("run", "--select", "dim_ml_models", "--quiet")
        seen = spark_columns(built, "model_scores")
    columns = seen["tables"]["model_scores"]
    present = {"model_scores": dict(columns)}
    assert contract_mismatches(built, "spark_catalog", ["model_scores"], present) == []
    # added after the old data columns, before the partition columns
    names = [name for name, _ in columns]
    assert names[-2:] == ["model_name", "score_month"]
    assert names[names.index("scored_at") + 1 : -2] == _NEW
    (row,) = seen["rows"]["model_scores"]
    _check_old_row_kept(row)
