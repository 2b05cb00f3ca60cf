"""Spark through one SparkSession configured like dbt-spark's.

`method: session` (local runs, CI): the same `server_side_parameters` dbt-spark uses, so
both see one warehouse directory and one Hive metastore (Derby admits one JVM at a time:
dbt and python_scoring run one after the other). `method: thrift` (a cluster): the
session comes from the cluster's own configuration (spark-submit, hive-site.xml), with
SCOREHOUSE_SPARK_MASTER as its master.

Spark has no multi-statement transactions; writes are overwrites of whole partitions or
small tables, each one a single Spark job that replaces its directory on success:
- scoring runs on the executors (`mapInArrow` with a picklable ScoringTask that loads and
  verifies the artifact once per Python worker); each piece overwrites its partition of the
  staging table, and the slice swap overwrites the (model_name, score_month) partition of
  ml.model_scores;
- raw tables are loaded into `<table>__loading` and renamed when every table is loaded;
- ml.scoring_locks is rewritten whole (a handful of rows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa

from python_scoring.errors import ScorehouseError
from python_scoring.project import Relation
from python_scoring.warehouse import BatchTask, Warehouse, predicate, sql_literal


def _plain(table: pa.Table) -> pa.Table:
    """Spark's Arrow (timestamps with the session time zone, UTC in the profiles) as the
    naive timestamps the other engines return."""
    fields = [
        pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) and f.type.tz else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def prepare_process(output: dict[str, Any]) -> None:
    """Before the first session of this process starts (dbt-spark's, when `scorehouse run`
    calls dbt in-process): the session method's executors run their Python workers on
    this interpreter, which has python_scoring and its dependencies."""
    if output.get("method") == "session":
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark logs every failed query at ERROR with its Java stack trace (~12 KB); the
    # failure reaches the user anyway, as one line from dbt or scorehouse
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    logging.getLogger("py4j").setLevel(logging.WARNING)


def _first_line(exc: Exception) -> str:
    """Spark's first line, and for a Python worker's traceback the exception it ended in
    (the first line only says that the worker failed)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    return f"{lines[0]} {raised[-1]}" if "Python worker" in lines[0] and raised else lines[0]


class SparkWarehouse(Warehouse):
    name = "spark"

    def __init__(self, output: dict[str, Any]) -> None:
        prepare_process(output)
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - pyspark is a dependency
            raise ScorehouseError("the spark target needs pyspark (pip install pyspark)") from exc
        builder = SparkSession.builder.appName("scorehouse").enableHiveSupport()
        prepare_process(output)
        if output.get("method") == "session":
            for key, value in (output.get("server_side_parameters") or {}).items():
                builder = builder.config(key, str(value))
        elif os.environ.get("SCOREHOUSE_SPARK_MASTER"):
            builder = builder.master(os.environ["SCOREHOUSE_SPARK_MASTER"])
        # the executors' Python workers import python_scoring and pandas: keep Arrow on
        builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        try:
            self.spark = builder.getOrCreate()
        except Exception as exc:
            raise ScorehouseError(
                f"cannot start Spark for target '{output['target_name']}': "
                f"{str(exc).strip().splitlines()[0]} (is Java 17 installed, and is no other "
                "process holding the metastore?)"
            ) from exc
        self.spark.sparkContext.setLogLevel("ERROR")

    def erase(self, requests: pa.Table, erasure: Relation, columns: set[str]) -> dict[str, int]:
        """Parquet tables have no DELETE and Spark no transaction across tables: the
        requests are appended first (staging's filter keeps the ids out of every rebuild
        from then on), then each table holding an id is rewritten without it: its kept
        rows are staged in `<table>__erasing`, which overwrites the table and is dropped.
        A staged table found at the start is an interrupted erasure's: it is written back
        first, so a rerun of `forget` completes it."""
        self.append_all([(erasure, requests)])
        erased = f"(select {self.as_text('entity_id')} from {erasure.sql})"
        deleted: dict[str, int] = {}
        for database in sorted(d.name for d in self.spark.catalog.listDatabases()):
            for table in self.spark.catalog.listTables(database):
                if table.tableType == "VIEW" or table.isTemporary:
                    continue
                relation = Relation(None, database, table.name)
                if (database, table.name) == (erasure.schema, erasure.identifier):
                    continue
                if table.name.endswith("__erasing"):
                    original = Relation(None, database, table.name.removesuffix("__erasing"))
                    self._sql(f"insert overwrite table {original.sql} select * from {relation.sql}")
                    self.drop(relation)
                    continue
                hits = [c for c in self.columns(relation) if c in columns]
                if not hits:
                    continue
                where = " or ".join(f"{self.as_text(c)} in {erased}" for c in hits)
                rows = self._sql(f"select count(*) from {relation.sql} where {where}").first()[0]
                if not rows:
                    continue
                staged = Relation(None, database, f"{table.name}__erasing")
                self._sql(
                    f"create table {staged.sql} using parquet as select * from {relation.sql} "
                    f"where not coalesce({where}, false)"
                )
                self._sql(f"insert overwrite table {relation.sql} select * from {staged.sql}")
                self.drop(staged)
                deleted[f"{database}.{table.name}"] = rows
        return deleted

    def _sql(self, sql: str):
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(sql)
        except PySparkException as exc:
            raise ScorehouseError(f"Spark: {_first_line(exc)}") from exc

    # ---- reads ---------------------------------------------------------------------
    def query_arrow(self, sql: str) -> pa.Table:
        return _plain(self._sql(sql).toArrow())

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        # the driver-side path (tests, small reads); scoring runs on the executors
        yield from self.query_arrow(sql).to_batches(batch_rows)

    def columns(self, relation: Relation) -> list[str]:
        if not self.exists(relation):
            raise ScorehouseError(f"table {relation} does not exist: run `dbt build` first")
        return [c.lower() for c in self.spark.table(relation.sql).columns]

    def exists(self, relation: Relation) -> bool:
        return self.spark.catalog.tableExists(f"{relation.schema}.{relation.identifier}")

    def _partitions(self, relation: Relation) -> list[str]:
        rows = self._sql(f"describe table {relation.sql}").collect()
        names = [r[0] for r in rows]
        if "# Partition Information" not in names:
            return []
        start = names.index("# Partition Information") + 2  # after the "# col_name" header
        return [n for n in names[start:] if n and not n.startswith("#")]

    # ---- SQL -------------------------------------------------------------------------
    def as_text(self, expr: str) -> str:
        return f"cast({expr} as string)"

    def piece_expression(self, id_sql: str, by: str) -> str:
        text = self.as_text(id_sql)
        hashed = f"cast(conv(substr(md5({text}), 1, 8), 16, 10) as bigint)"
        if by == "hash":
            return hashed
        last = f"right({text}, 1)"
        return f"(case when {last} rlike '^[0-9]$' then cast({last} as bigint) else {hashed} end)"

    def row_fingerprint(self, columns: list[str]) -> list[str]:
        # Spark's 64-bit xxhash of the typed values, summed as a decimal (no overflow)
        return [f"sum(cast(xxhash64({', '.join(columns)}) as decimal(38, 0)))"]

    # ---- writes ----------------------------------------------------------------------
    def _frame(self, table: pa.Table, relation: Relation | None = None):
        """An Arrow table as a DataFrame; with `relation`, in its column order and types
        (absent columns as nulls), ready for a positional insert."""
        from pyspark.sql import functions as F

        frame = self.spark.createDataFrame(table)
        if relation is None:
            return frame
        target = self.spark.table(relation.sql).schema
        return frame.select(
            [
                (F.col(f.name) if f.name in table.column_names else F.lit(None))
                .cast(f.dataType)
                .alias(f.name)
                for f in target
            ]
        )

    def execute(self, *statements: str) -> None:
        for statement in statements:  # no transactions: callers use the overwrites below
            self._sql(statement)

    def append_all(self, tables: Iterable[tuple[Relation, pa.Table]]) -> None:
        # in order: training writes its ml.training_runs row, which the marts key on, last
        for relation, table in tables:
            if table.num_rows:
                self._frame(table, relation).write.insertInto(relation.sql)

    def replace_rows(self, relation: Relation, where: dict[str, Any], table: pa.Table) -> None:
        """For small tables (ml.scoring_locks): the kept rows and the new ones, rewritten."""
        kept = self._sql(f"select * from {relation.sql} where not ({predicate(where)})")
        rows = kept.toArrow().to_pylist()  # collected first: Spark cannot overwrite its input
        new = self._frame(table, relation).toArrow().to_pylist()
        schema = self.spark.table(relation.sql).schema
        frame = self.spark.createDataFrame(rows + new, schema=schema)
        frame.write.insertInto(relation.sql, overwrite=True)

    def replace_slices(self, slices: Iterable[tuple[Relation, dict[str, Any], pa.Table]]) -> None:
        """No multi-table transactions on Spark: one overwrite per table, in order. A table
        partitioned by exactly the `where` keys gets its partition overwritten (big tables,
        e.g. ml.customer_clusters by rule_set); any other is rewritten whole (small ones)."""
        for relation, where, table in slices:
            if sorted(self._partitions(relation)) != sorted(where):
                self.replace_rows(relation, where, table)
                continue
            view = f"scorehouse_slice_{abs(hash(str(relation)))}"
            self._frame(table, relation).createOrReplaceTempView(view)
            spec = ", ".join(f"{k} = {_partition_value(v)}" for k, v in where.items())
            columns = ", ".join(c for c in self.columns(relation) if c not in where)
            self._sql(
                f"insert overwrite table {relation.sql} partition ({spec}) "
                f"select {columns} from {view}"
            )
            self.spark.catalog.dropTempView(view)

    def replace_tables(self, chunks: Iterable[tuple[Relation, pa.Table]]) -> dict[str, int]:
        rows: dict[str, int] = {}
        loading: dict[str, Relation] = {}
        pending: dict[str, list[pa.Table]] = {}

        def flush(key: str) -> None:  # one Spark job per ~1M rows, not per chunk
            mode = "append" if rows[key] else "overwrite"
            data = pa.concat_tables(pending.pop(key))
            self._frame(data).write.format("parquet").mode(mode).saveAsTable(loading[key].sql)
            rows[key] += data.num_rows

        try:
            for relation, chunk in chunks:
                key = str(relation)
                if key not in loading:
                    self._sql(f"create database if not exists {relation.schema_sql}")
                    loading[key] = Relation(
                        None, relation.schema, f"{relation.identifier}__loading"
                    )
                    self.drop(loading[key])
                    rows[key] = 0
                pending.setdefault(key, []).append(chunk)
                if sum(t.num_rows for t in pending[key]) >= 1_000_000:
                    flush(key)
            for key in list(pending):
                flush(key)
        except BaseException:
            for staged in loading.values():
                self.drop(staged)
            raise
        for staged in loading.values():
            target = Relation(None, staged.schema, staged.identifier.removesuffix("__loading"))
            self.drop(target)
            self._sql(f"alter table {staged.sql} rename to {target.sql}")
        return rows

    def create_piece_table(self, staging: Relation, like: Relation) -> None:
        self.drop(staging)
        self._sql(
            f"create table {staging.sql} using parquet partitioned by (piece) as "
            f"select *, cast(0 as int) as pieces, cast(0 as int) as piece from {like.sql} "
            "where 1 = 0"
        )

    def write_piece(
        self,
        staging: Relation,
        piece: int,
        sql: str,
        task: BatchTask,
        advance: Callable[[int], None],
    ) -> int:
        """Distributed: the executors run the picklable task over their partitions of the
        piece (mapInArrow) and the piece's staging partition is overwritten with the
        result. Columns equal on every row are added here, in SQL."""
        from pyspark.sql.types import StructType

        staged = self.spark.table(staging.sql).schema
        per_row = dataclasses.replace(task, constants={})
        produced = per_row.columns()
        scored = self._sql(sql).mapInArrow(
            per_row.map_batches, StructType([f for f in staged if f.name in produced])
        )
        view = f"scored_piece_{piece}"
        scored.createOrReplaceTempView(view)

        def value(field) -> str:
            if field.name in task.constants:
                literal = sql_literal(task.constants[field.name])
                return f"cast({literal} as {field.dataType.simpleString()})"
            if field.name in produced:
                return field.name
            return f"cast(null as {field.dataType.simpleString()})"

        columns = ", ".join(value(f) for f in staged if f.name != "piece")
        self._sql(
            f"insert overwrite table {staging.sql} partition (piece = {int(piece)}) "
            f"select {columns} from {view}"
        )
        self.spark.catalog.dropTempView(view)
        rows = self.count(staging, f"piece = {int(piece)}")
        advance(rows)
        return rows

    def swap_slice(self, target: Relation, where: dict[str, Any], staging: Relation) -> int:
        """Overwrite the target's (model_name, score_month) partition with staging."""
        partitions = self._partitions(target)
        if sorted(partitions) != sorted(where):
            raise ScorehouseError(
                f"{target} is partitioned by ({', '.join(partitions) or 'nothing'}), not by "
                f"({', '.join(where)}): rebuild it with `dbt run-operation "
                "create_ml_contract_tables` on an empty ml schema"
            )
        spec = ", ".join(f"{k} = {_partition_value(v)}" for k, v in where.items())
        columns = ", ".join(c for c in self.columns(target) if c not in where)
        rows = self.count(staging)
        self._sql(
            f"insert overwrite table {target.sql} partition ({spec}) "
            f"select {columns} from {staging.sql}"
        )
        self.drop(staging)
        return rows

    def close(self) -> None:
        # the session stays up for the life of the process (getOrCreate shares it)
        pass


def _partition_value(value: Any) -> str:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return sql_literal(value.isoformat())
    return sql_literal(value)
