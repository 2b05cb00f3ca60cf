"""The one module that knows how to talk to each engine.

Everything else in python_scoring speaks Arrow tables and `Relation`s; engine-specific
SQL and client calls live here only. DuckDB now; PostgreSQL and Spark join later behind
the same methods.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project, Relation

log = logging.getLogger(__name__)


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


class Warehouse:
    """Engine-neutral interface; `connect` returns the implementation for the profile."""

    @staticmethod
    def connect(project: Project) -> Warehouse:
        output = project.profile_output
        kind = output.get("type")
        if kind == "duckdb":
            return DuckDBWarehouse(output)
        raise ScorehouseError(
            f"target '{output['target_name']}' has type '{kind}', which python_scoring does not "
            "support yet (supported: duckdb)"
        )

    def query_arrow(self, sql: str) -> pa.Table:
        raise NotImplementedError

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def columns(self, relation: Relation) -> list[str]:
        raise NotImplementedError

    def replace_tables(self, chunks: Iterable[tuple[Relation, pa.Table]]) -> dict[str, int]:
        raise NotImplementedError

    def append(self, relation: Relation, table: pa.Table) -> None:
        self.append_all([(relation, table)])

    def append_all(self, tables: Iterable[tuple[Relation, pa.Table]]) -> None:
        """Insert each table into its relation (columns by name), all in one transaction."""
        raise NotImplementedError

    def replace_slice(
        self, relation: Relation, where: dict[str, Any], batches: Iterable[pa.Table]
    ) -> int:
        raise NotImplementedError

    def exists(self, relation: Relation) -> bool:
        raise NotImplementedError

    def execute(self, *statements: str) -> None:
        """Run statements in one transaction (all or nothing)."""
        raise NotImplementedError

    def write_piece(
        self, staging: Relation, where: dict[str, Any], batches: Iterable[pa.Table]
    ) -> int:
        """Replace the rows `where` of a staging table with the batches, one transaction."""
        return self.replace_slice(staging, where, batches)

    def swap_slice(self, target: Relation, where: dict[str, Any], staging: Relation) -> int:
        """Replace the slice `where` of target with every row of staging (columns by name)
        and drop staging, in one transaction; returns the rows swapped in."""
        raise NotImplementedError

    def as_text(self, expr: str) -> str:
        """SQL casting an expression to the engine's text type."""
        raise NotImplementedError

    def piece_expression(self, id_sql: str, by: str) -> str:
        """A non-negative integer from an id; piece k of N holds the ids where it is k mod N.
        by='last_digit': the id's last character when it is a digit (how operators split
        their base), else the hash; by='hash': the first 32 bits of md5(id) (the
        hash_bucket macro's function)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def require_columns(self, relation: Relation, needed: Iterable[str]) -> list[str]:
        """The relation's columns; a clear error naming the table and any missing column."""
        present = self.columns(relation)
        missing = [c for c in needed if c not in present]
        if missing:
            raise ScorehouseError(f"{relation} has no column(s) {', '.join(missing)}")
        return present


def _predicate(where: dict[str, Any]) -> str:
    return " and ".join(f"{col} = {sql_literal(val)}" for col, val in where.items())


def _as_user_error(exc: BaseException) -> BaseException:
    """A database error as one line for the user; anything else (a bug, Ctrl-C) as is."""
    import duckdb

    if isinstance(exc, duckdb.Error):
        return ScorehouseError(f"DuckDB: {str(exc).splitlines()[0]} (nothing was written)")
    return exc


class DuckDBWarehouse(Warehouse):
    def __init__(self, output: dict[str, Any]) -> None:
        import duckdb

        path = output.get("path", ":memory:")
        if path != ":memory:" and not Path(path).parent.exists():
            raise ScorehouseError(f"DuckDB file directory {Path(path).parent} does not exist")
        try:
            self.con = duckdb.connect(path)
        except duckdb.IOException as exc:
            raise ScorehouseError(
                f"cannot open DuckDB file {path} (one writer at a time: is dbt or another "
                f"scorehouse command using it?): {str(exc).splitlines()[0]}"
            ) from exc
        if output.get("threads"):
            self.con.execute(f"set threads = {int(output['threads'])}")
        for name, value in (output.get("settings") or {}).items():  # as dbt-duckdb applies them
            self.con.execute(f"set {name} = {sql_literal(str(value))}")

    def _relation(self, sql: str):
        import duckdb

        try:
            return self.con.sql(sql)
        except duckdb.Error as exc:
            raise ScorehouseError(f"DuckDB: {str(exc).splitlines()[0]}") from exc

    def query_arrow(self, sql: str) -> pa.Table:
        import duckdb

        try:
            return self._relation(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise ScorehouseError(f"DuckDB: {str(exc).splitlines()[0]}") from exc

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        yield from self._relation(sql).to_arrow_reader(batch_rows)

    def columns(self, relation: Relation) -> list[str]:
        rows = self.con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [relation.schema, relation.identifier],
        ).fetchall()
        if not rows:
            raise ScorehouseError(f"table {relation} does not exist: run `dbt build` first")
        return [r[0] for r in rows]

    def replace_tables(self, chunks: Iterable[tuple[Relation, pa.Table]]) -> dict[str, int]:
        """Replace each named table with the concatenation of its chunks, all in one
        transaction (a failure part-way leaves every table as it was)."""
        rows: dict[str, int] = {}
        self.con.execute("begin transaction")
        try:
            for relation, chunk in chunks:
                self.con.register("incoming", chunk)
                if str(relation) not in rows:
                    self.con.execute(f'create schema if not exists "{relation.schema}"')
                    self.con.execute(
                        f"create or replace table {relation.sql} as select * from incoming"
                    )
                    rows[str(relation)] = 0
                else:
                    self.con.execute(f"insert into {relation.sql} select * from incoming")
                self.con.unregister("incoming")
                rows[str(relation)] += chunk.num_rows
            self.con.execute("commit")
        except BaseException as exc:
            self.con.execute("rollback")
            raise _as_user_error(exc) from exc
        return rows

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A writer cursor inside one transaction: committed at the end, rolled back on
        any failure (raised as one line for the user). A second cursor, so its statements
        may interleave with a stream still reading from the main connection."""
        writer = self.con.cursor()
        try:
            writer.execute("begin transaction")
            yield writer
            writer.execute("commit")
        except BaseException as exc:
            writer.execute("rollback")
            raise _as_user_error(exc) from exc
        finally:
            writer.close()

    @staticmethod
    def _insert(writer: Any, relation: Relation, table: pa.Table) -> None:
        writer.register("incoming", table)
        writer.execute(f"insert into {relation.sql} by name select * from incoming")
        writer.unregister("incoming")

    def append_all(self, tables: Iterable[tuple[Relation, pa.Table]]) -> None:
        with self._transaction() as writer:
            for relation, table in tables:
                self._insert(writer, relation, table)

    def replace_slice(
        self, relation: Relation, where: dict[str, Any], batches: Iterable[pa.Table]
    ) -> int:
        """Delete the slice `where` and insert the batches in one transaction; any
        failure (including one raised by the batch iterator) rolls back."""
        rows = 0
        with self._transaction() as writer:
            writer.execute(f"delete from {relation.sql} where {_predicate(where)}")
            for batch in batches:
                self._insert(writer, relation, batch)
                rows += batch.num_rows
        return rows

    def exists(self, relation: Relation) -> bool:
        rows = self.con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [relation.schema, relation.identifier],
        ).fetchall()
        return bool(rows)

    def execute(self, *statements: str) -> None:
        with self._transaction() as writer:
            for statement in statements:
                writer.execute(statement)

    def swap_slice(self, target: Relation, where: dict[str, Any], staging: Relation) -> int:
        columns = ", ".join(self.columns(target))
        rows = self.con.execute(f"select count(*) from {staging.sql}").fetchall()[0][0]
        self.execute(
            f"delete from {target.sql} where {_predicate(where)}",
            f"insert into {target.sql} ({columns}) select {columns} from {staging.sql}",
            f"drop table {staging.sql}",
        )
        return rows

    def as_text(self, expr: str) -> str:
        return f"cast({expr} as varchar)"

    def piece_expression(self, id_sql: str, by: str) -> str:
        text = self.as_text(id_sql)
        hashed = f"cast(('0x' || substr(md5({text}), 1, 8)) as ubigint)"
        if by == "hash":
            return hashed
        last = f"right({text}, 1)"
        return (
            f"(case when {last} between '0' and '9' then cast({last} as ubigint) else {hashed} end)"
        )

    def close(self) -> None:
        self.con.close()
