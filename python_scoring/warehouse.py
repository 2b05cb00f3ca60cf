"""The one module that knows how to talk to each engine.

Everything else in python_scoring speaks Arrow tables and `Relation`s; engine-specific
SQL and client calls live here only. DuckDB now; PostgreSQL and Spark join later behind
the same methods.
"""

from __future__ import annotations

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
        raise NotImplementedError

    def replace_slice(self, relation: Relation, where: dict[str, Any], table: pa.Table) -> None:
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
        except duckdb.CatalogException as exc:
            raise ScorehouseError(str(exc).splitlines()[0]) from exc

    def query_arrow(self, sql: str) -> pa.Table:
        return self._relation(sql).to_arrow_table()

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
        except BaseException:
            self.con.execute("rollback")
            raise
        return rows

    def append(self, relation: Relation, table: pa.Table) -> None:
        self.con.register("incoming", table)
        try:
            self.con.execute(f"insert into {relation.sql} by name select * from incoming")
        finally:
            self.con.unregister("incoming")

    def replace_slice(self, relation: Relation, where: dict[str, Any], table: pa.Table) -> None:
        """Delete the slice `where` and insert `table`, in one transaction."""
        predicate = " and ".join(f"{col} = {sql_literal(val)}" for col, val in where.items())
        self.con.register("incoming", table)
        self.con.execute("begin transaction")
        try:
            self.con.execute(f"delete from {relation.sql} where {predicate}")
            self.con.execute(f"insert into {relation.sql} by name select * from incoming")
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        finally:
            self.con.unregister("incoming")

    def close(self) -> None:
        self.con.close()
