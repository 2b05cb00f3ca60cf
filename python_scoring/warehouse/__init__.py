"""The one place that knows how to talk to each engine.

Everything else in python_scoring speaks Arrow tables, `Relation`s and portable SQL;
engine-specific SQL and client calls live in this package only: `_duckdb` (embedded,
default), `_postgres` (PostgreSQL / Greenplum: COPY in and out, transactions) and
`_spark` (a SparkSession: distributed scoring with mapInArrow, partition overwrite).
`Warehouse.connect` picks the implementation from the dbt profile's target type.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pyarrow as pa

from python_scoring.errors import ScorehouseError
from python_scoring.privacy import pgoptions
from python_scoring.project import Project, Relation

BATCH_ROWS = 100_000  # rows held in memory at once while streaming (read, score, write)


def sql_literal(value: Any) -> str:
    """A Python value as an ANSI SQL literal (every supported engine reads these)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"cannot render {value!r} as SQL")


def _quoted(name: str) -> str:
    """A catalog name as a quoted SQL identifier (DuckDB and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def predicate(where: dict[str, Any]) -> str:
    return " and ".join(f"{col} = {sql_literal(val)}" for col, val in where.items())


def to_pandas(table: pa.Table | pa.RecordBatch):
    """Arrow to pandas with decimals as float64: engines type sums and counts as DECIMAL
    or HUGEINT (decimal128 in Arrow), which pandas would hold as Python objects."""
    fields = [
        pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema
    ]
    if any(pa.types.is_decimal(f.type) for f in table.schema):
        table = table.cast(pa.schema(fields))
    # release Arrow buffers column by column as they are converted (no second full copy)
    return table.to_pandas(split_blocks=True, self_destruct=True)


class BatchTask(Protocol):
    """A picklable function from a pandas batch of a query's rows to an Arrow table (e.g.
    python_scoring.scoring.task.ScoringTask). `constants` are output columns equal on every
    row; `columns()` names the output columns; `map_batches` is its mapInArrow form (Spark
    pickles the task to its executors)."""

    constants: dict[str, Any]

    def __call__(self, frame: Any) -> pa.Table: ...

    def columns(self) -> list[str]: ...

    def map_batches(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]: ...


def prepare_process(project: Project) -> None:
    """Process settings the target's engine needs before anything in this process (dbt
    in-process included) starts it."""
    kind = project.profile_output.get("type")
    if kind == "spark":
        from python_scoring.warehouse._spark import prepare_process as prepare_spark

        prepare_spark(project.profile_output)
    elif kind == "postgres":
        # the pseudonymisation salt as a session setting of every connection (privacy.py)
        os.environ["PGOPTIONS"] = pgoptions(os.environ.get("PGOPTIONS", ""))


def release_after_dbt(project: Project) -> None:
    """dbt in-process keeps its adapters' connections open; close them, so that the next
    step (and a reader of the warehouse) can connect."""
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    if project.profile_output.get("type") == "duckdb":
        from python_scoring.warehouse._duckdb import release_dbt_handle

        release_dbt_handle()


class Warehouse:
    """Engine-neutral interface; `connect` returns the implementation for the profile.

    Implementations with transactions (DuckDB, PostgreSQL) provide `_transaction` and
    `_insert`; the writes below are then all-or-nothing. Spark overrides the writes with
    partition overwrites (see `_spark`)."""

    name = "warehouse"

    @staticmethod
    def connect(project: Project, create: bool = False) -> Warehouse:
        """The warehouse of the profile's target. `create`: an embedded DuckDB file may be
        created (the commands that write raw tables); otherwise a missing file (a typo in
        its path) is refused rather than silently created empty."""
        output = project.profile_output
        kind = output.get("type")
        if kind == "duckdb":
            from python_scoring.warehouse._duckdb import DuckDBWarehouse

            return DuckDBWarehouse(output, create)
        if kind == "postgres":
            from python_scoring.warehouse._postgres import PostgresWarehouse

            return PostgresWarehouse(output)
        if kind == "spark":
            from python_scoring.warehouse._spark import SparkWarehouse

            return SparkWarehouse(output)
        raise ScorehouseError(
            f"target '{output['target_name']}' has type '{kind}', which python_scoring does not "
            "support (supported: duckdb, postgres, spark)"
        )

    # ---- reads ---------------------------------------------------------------------
    def query_arrow(self, sql: str) -> pa.Table:
        raise NotImplementedError

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def columns(self, relation: Relation) -> list[str]:
        raise NotImplementedError

    def exists(self, relation: Relation) -> bool:
        raise NotImplementedError

    def count(self, relation: Relation, where_sql: str = "1 = 1") -> int:
        sql = f"select count(*) as n from {relation.sql} where {where_sql}"
        return int(self.query_arrow(sql).column(0)[0].as_py())

    def require_columns(self, relation: Relation, needed: Iterable[str]) -> list[str]:
        """The relation's columns; a clear error naming the table and any missing column."""
        present = self.columns(relation)
        missing = [c for c in needed if c not in present]
        if missing:
            raise ScorehouseError(f"{relation} has no column(s) {', '.join(missing)}")
        return present

    # ---- SQL the engines spell differently -------------------------------------------
    def as_text(self, expr: str) -> str:
        """SQL casting an expression to the engine's text type."""
        raise NotImplementedError

    def piece_expression(self, id_sql: str, by: str) -> str:
        """A non-negative integer from an id; piece k of N holds the ids where it is k mod N.
        by='last_digit': the id's last character when it is a digit (how operators split
        their base), else the hash; by='hash': the first 32 bits of md5(id) (the
        hash_bucket macro's function)."""
        raise NotImplementedError

    def piece_filters(
        self, relation: Relation, where: str, id_sql: str, by: str, pieces: int
    ) -> list[str]:
        """One SQL condition per piece over the rows of `relation` matching `where`: every
        such row in exactly one piece. By id ('last_digit', 'hash': piece_expression mod
        `pieces`); 'position' (DuckDB) is refused here. One piece: no condition, no hash."""
        if pieces == 1:
            return ["1 = 1"]
        if by == "position":
            raise ScorehouseError(
                f"piece_by 'position' splits by DuckDB's row ids; {self.name} has none: use "
                "piece_by last_digit or hash in the registry"
            )
        piece_of = self.piece_expression(id_sql, by)
        return [f"{piece_of} % {pieces} = {piece}" for piece in range(pieces)]

    def row_fingerprint(self, columns: list[str]) -> list[str]:
        """Aggregate SQL expressions whose values, with the row count, change when any row's
        `columns` change, whatever the rows' order. Portable: two sums of 32-bit md5 hashes
        of each row's text (length-prefixed, so no two rows' texts run together; null as
        '~'). Engines with a hash of typed values override it: formatting numbers as text
        costs ~15 s per 1M rows x 60 columns."""

        def field(column: str) -> str:
            text = self.as_text(column)
            return f"coalesce({self.as_text(f'length({text})')} || ':' || {text}, '~')"

        row = " || ',' || ".join(field(c) for c in columns)
        first = self.piece_expression(row, "hash")
        second = self.piece_expression(f"{row} || '#'", "hash")
        return [f"sum({first})", f"sum({second})"]

    # ---- transactional writes ---------------------------------------------------------
    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        """A writer inside one transaction: committed at the end, rolled back (and raised
        as one line for the user) on any failure."""
        raise NotImplementedError

    def _insert(self, writer: Any, relation: Relation, table: pa.Table) -> None:
        """Bulk-insert an Arrow table (columns by name) through a transaction's writer."""
        raise NotImplementedError

    def replace_tables(self, chunks: Iterable[tuple[Relation, pa.Table]]) -> dict[str, int]:
        """Replace each named table with the concatenation of its chunks (created with the
        chunks' types), all in one transaction (a failure part-way leaves every table as
        it was)."""
        raise NotImplementedError

    def append(self, relation: Relation, table: pa.Table) -> None:
        self.append_all([(relation, table)])

    def append_all(self, tables: Iterable[tuple[Relation, pa.Table]]) -> None:
        """Insert each table into its relation (columns by name), all in one transaction."""
        with self._transaction() as writer:
            for relation, table in tables:
                self._insert(writer, relation, table)

    def execute(self, *statements: str) -> None:
        """Run statements in one transaction (all or nothing)."""
        with self._transaction() as writer:
            for statement in statements:
                writer.execute(statement)

    def replace_rows(self, relation: Relation, where: dict[str, Any], table: pa.Table) -> None:
        """Delete the rows `where` and insert `table`, in one transaction."""
        self.replace_slices([(relation, where, table)])

    def replace_slices(self, slices: Iterable[tuple[Relation, dict[str, Any], pa.Table]]) -> None:
        """For each (relation, where, table): delete the rows `where`, insert `table`; all
        in one transaction."""
        with self._transaction() as writer:
            for relation, where, table in slices:
                writer.execute(f"delete from {relation.sql} where {predicate(where)}")
                if table.num_rows:
                    self._insert(writer, relation, table)

    def create_piece_table(self, staging: Relation, like: Relation) -> None:
        """A fresh, empty table written piece by piece (write_piece): the columns of `like`
        plus the integer columns piece and pieces."""
        self.execute(
            f"drop table if exists {staging.sql}",
            f"create table {staging.sql} as select *, cast(0 as integer) as piece, "
            f"cast(0 as integer) as pieces from {like.sql} where 1 = 0",
        )

    def drop(self, relation: Relation) -> None:
        self.execute(f"drop table if exists {relation.sql}")

    def write_piece(
        self,
        staging: Relation,
        piece: int,
        sql: str,
        task: BatchTask,
        advance: Callable[[int], None],
    ) -> int:
        """Run `task` over the rows of `sql` batch by batch in this process and replace the
        rows of `piece` in staging with its output, in one transaction; returns the rows
        written. A batch is scored on a second thread while this one writes the batch
        before and reads the next (the engine's client, numpy and compiled trees release
        the GIL): the two cores overlap I/O and prediction, one batch ahead at most."""
        rows = 0
        with self._transaction() as writer, ThreadPoolExecutor(1, "score") as scorer:
            writer.execute(f"delete from {staging.sql} where piece = {int(piece)}")
            pending = None
            for batch in itertools.chain(self.stream(sql, BATCH_ROWS), [None]):
                scoring = None if batch is None else scorer.submit(task, to_pandas(batch))
                if pending is not None:
                    table = pending.result()
                    self._insert(writer, staging, table)
                    advance(table.num_rows)
                    rows += table.num_rows
                pending = scoring
        return rows

    def swap_slice(self, target: Relation, where: dict[str, Any], staging: Relation) -> int:
        """Replace the slice `where` of target with every row of staging (columns by name)
        and drop staging, in one transaction; returns the rows swapped in."""
        columns = ", ".join(self.columns(target))
        rows = self.count(staging)
        self.execute(
            f"delete from {target.sql} where {predicate(where)}",
            f"insert into {target.sql} ({columns}) select {columns} from {staging.sql}",
            f"drop table {staging.sql}",
        )
        return rows

    def erase(self, requests: pa.Table, erasure: Relation, columns: set[str]) -> dict[str, int]:
        """The right to erasure, in one transaction: append `requests` (ids and who asked)
        to the suppression list `erasure`, then delete from every table of the warehouse
        (views recompute) each row whose column named in `columns` holds an id on the list.
        Returns the rows deleted per table that had any."""
        with self._transaction() as writer:
            self._insert(writer, erasure, requests)
            writer.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "join information_schema.tables using (table_catalog, table_schema, table_name) "
                "where table_catalog = current_database() and table_type = 'BASE TABLE' "
                f"and lower(column_name) in ({', '.join(sql_literal(c) for c in sorted(columns))}) "
                "order by 1, 2, 3"
            )
            found = writer.fetchall()
            erased = f"(select entity_id from {erasure.sql})"
            deleted: dict[str, int] = {}
            for schema, table, column in found:
                name = f"{_quoted(schema)}.{_quoted(table)}"
                if (schema, table) == (erasure.schema, erasure.identifier):
                    continue
                where = f"{self.as_text(_quoted(column))} in {erased}"
                writer.execute(f"select count(*) from {name} where {where}")
                (rows,) = writer.fetchone()
                if rows:
                    writer.execute(f"delete from {name} where {where}")
                    deleted[f"{schema}.{table}"] = deleted.get(f"{schema}.{table}", 0) + rows
        return deleted

    def close(self) -> None:
        pass

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
