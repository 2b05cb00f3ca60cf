"""python_scoring/contract.py against the ml tables dbt creates (macros/ml/
ml_contract_tables.sql, the on-run-start hook): the same tables, columns and types. Here
on a fresh DuckDB warehouse; test_engine_postgres.py and test_engine_spark.py run
`contract_mismatches` on the warehouses they build."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from python_scoring import contract

from .conftest import Built, make_warehouse, query

# An Arrow type as information_schema.columns names it (Spark: its parquet read by DuckDB,
# conftest._reader)
_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
}
ENGINE_TYPES = {
    "duckdb": _DUCKDB_TYPES,
    "spark": _DUCKDB_TYPES,
    # Spark's own catalog (spark_columns): a fresh table has no parquet file to read
    "spark_catalog": {
        pa.string(): "string",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.timestamp("us"): "timestamp",
    },
    "postgres": {
        pa.string(): "text",
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.float64(): "double precision",
        pa.date32(): "date",
        pa.timestamp("us"): "timestamp without time zone",
    },
}


def warehouse_columns(built: Built) -> dict[str, dict[str, str]]:
    """The column types of every table in the warehouse's ml schema, by table."""
    schema = built.project().source("ml", "model_scores").schema
    rows = query(
        built,
        "select table_name, column_name, data_type from information_schema.columns "
        f"where table_schema = '{schema}' order by table_name, ordinal_position",
    )
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table.lower(), {})[column.lower()] = data_type
    return tables


def contract_mismatches(
    built: Built, engine: str, tables=tuple(contract.SCHEMAS), present=None
) -> list[str]:
    """How the warehouse's ml tables differ from contract.py (a missing table, a column
    missing on either side, another type); empty when they agree. Columns are compared by
    name: every writer inserts by name (Spark lists partition columns last). `present`:
    the columns by table when read otherwise than `warehouse_columns` (engine then names
    the type names, e.g. spark_catalog)."""
    present = warehouse_columns(built) if present is None else present
    names = ENGINE_TYPES[engine]
    n_reasons = contract.max_reasons(built.project())
    problems = []
    for table in tables:
        if table not in present:
            problems.append(f"ml.{table}: not in the {engine} warehouse")
            continue
        expected = {f.name: names[f.type] for f in contract.schema(table, n_reasons)}
        for column in sorted(expected.keys() | present[table].keys()):
            want, got = expected.get(column), present[table].get(column)
            if want != got:
                problems.append(f"ml.{table}.{column}: contract.py {want}, {engine} {got}")
    return problems


# `python -c` this in the warehouse's environment (no JVM in the test process: Derby
# admits one at a time): the ml schema's tables on Spark, their columns and Spark types
# in table order, and the rows of any table named in argv[2:], as JSON.
_SPARK_COLUMNS = """
import json, sys
from pathlib import Path
from python_scoring.project import Project
from python_scoring.warehouse import Warehouse

root = Path(sys.argv[1])
project = Project(Path.cwd(), root, None, root / "target")
with Warehouse.connect(project) as wh:
    schema = project.source("ml", "model_scores").schema
    tables = {}
    for t in wh.spark.catalog.listTables(schema):
        fields = wh.spark.table(f"{schema}.{t.name}").schema
        tables[t.name] = [(f.name, f.dataType.simpleString()) for f in fields]
    rows = {}
    for name in sys.argv[2:]:
        rows[name] = wh.query_arrow(f"select * from {schema}.{name}").to_pylist()
print(json.dumps({"tables": tables, "rows": rows}, default=str))
"""


def spark_columns(built: Built, *rows_of: str) -> dict:
    """The ml schema of a Spark warehouse from Spark's catalog, not in this process:
    {"tables": {table: [(column, spark type), ...]}, "rows": {table: [row dicts]}}."""
    import json

    done = built.run_script(_SPARK_COLUMNS, str(built.root), *rows_of)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Built:
    """A new DuckDB warehouse holding only what the on-run-start hook creates (any dbt run
    runs it; dim_ml_models reads nothing but the registry)."""
    built = make_warehouse(tmp_path_factory.mktemp("contract"))
    built.dbt("run", "--select", "dim_ml_models", "--quiet")
    return built


def test_the_macro_creates_the_contracts_tables(fresh):
    assert sorted(warehouse_columns(fresh)) == sorted(contract.SCHEMAS)
    assert contract_mismatches(fresh, "duckdb") == []
    scores = warehouse_columns(fresh)["model_scores"]
    assert {"reason_5", "reason_5_value", "reason_5_contribution"} <= scores.keys()
    assert (scores["reason_1_value"], scores["reason_1_contribution"]) == ("VARCHAR", "DOUBLE")
    # the service's request log (serving/ingest.py), on Spark partitioned by spool_file
    requests = warehouse_columns(fresh)["online_requests"]
    assert [requests[c] for c in ("received_at", "request_month", "status", "score")] == [
        "TIMESTAMP",
        "DATE",
        "INTEGER",
        "DOUBLE",
    ]


@pytest.mark.postgres
def test_the_macro_creates_the_contracts_tables_on_postgres(tmp_path, postgres_server):
    from .conftest import postgres_database

    env = postgres_database(postgres_server, "contract")
    built = make_warehouse(tmp_path, "postgres", **env)
    built.dbt("run", "--select", "dim_ml_models", "--quiet")
    assert sorted(warehouse_columns(built)) == sorted(contract.SCHEMAS)
    assert contract_mismatches(built, "postgres") == []


@pytest.mark.spark
def test_the_macro_creates_the_contracts_tables_on_spark(tmp_path):
    built = make_warehouse(tmp_path, "spark_local")
    with built.hosted():  # one JVM for both
        built.dbt("run", "--select", "dim_ml_models", "--quiet")
        tables = spark_columns(built)["tables"]
    present = {table: dict(columns) for table, columns in tables.items()}
    assert sorted(present) == sorted(contract.SCHEMAS)
    assert contract_mismatches(built, "spark_catalog", present=present) == []


def test_table_types_rows_and_columns_alike():
    now = dt.datetime(2025, 1, 2, 3, 4, 5)
    lock = {"model_name": "m", "score_month": dt.date(2025, 1, 1), "pid": 7, "started_at": now}
    rows = contract.table("scoring_locks", [lock])
    assert rows.schema == contract.SCHEMAS["scoring_locks"]
    assert rows.to_pylist() == [{**lock, "run_id": None, "host": None}]
    assert contract.table("scoring_locks", []).schema == contract.SCHEMAS["scoring_locks"]
    columns = contract.table("score_baselines", {"bin": [0, 1], "upper_edge": [0.5, None]})
    assert columns.schema == contract.SCHEMAS["score_baselines"]
    assert columns.column("run_id").null_count == 2
    two = contract.schema("model_scores", 2)
    assert two.names[-7:] == [
        "reason_1",
        "reason_1_value",
        "reason_1_contribution",
        "reason_2",
        "reason_2_value",
        "reason_2_contribution",
        "scored_at",
    ]
    assert two.field("reason_2_value").type == pa.string()
    assert two.field("reason_2_contribution").type == pa.float64()
    assert contract.reason_columns(1) == ["reason_1", "reason_1_value", "reason_1_contribution"]
    with pytest.raises(ValueError, match="ml.model_metrics has no column"):
        contract.table("model_metrics", [{"metrik": "auc"}])
