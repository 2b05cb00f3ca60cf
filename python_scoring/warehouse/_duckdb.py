"""DuckDB, the embedded default: Arrow in and out without copies, one writer process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from python_scoring.errors import ScorehouseError
from python_scoring.privacy import KEY_ENV, warehouse_key
from python_scoring.project import Relation
from python_scoring.warehouse import Warehouse, sql_literal


def _as_user_error(exc: BaseException) -> BaseException:
    """A database error as one line for the user; anything else (a bug, Ctrl-C) as is."""
    import duckdb

    if isinstance(exc, duckdb.Error):
        return ScorehouseError(f"DuckDB: {str(exc).splitlines()[0]} (nothing was written)")
    return exc


def catalog_name(path: str) -> str:
    """The name DuckDB (and dbt-duckdb's relation names) give the file's database: its file
    name up to the first dot ("scorehouse.duckdb" -> scorehouse)."""
    return Path(path).name.lstrip(".").split(".")[0]


def _load_openssl(con: Any) -> None:
    """DuckDB encrypts securely only with OpenSSL, which its httpfs extension brings: the
    signed build of the package index (duckdb-extension-httpfs, pinned beside duckdb),
    loaded from its installed file (DuckDB checks the signature; nothing downloads)."""
    import duckdb

    try:
        import duckdb_extension_httpfs
    except ImportError as exc:
        raise ScorehouseError(
            f"the warehouse is encrypted ({KEY_ENV}) but duckdb-extension-httpfs is not "
            "installed (pyproject.toml pins it beside duckdb)"
        ) from exc
    extension = (
        Path(duckdb_extension_httpfs.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "httpfs.duckdb_extension"
    )
    if not extension.exists():
        raise ScorehouseError(
            f"no httpfs extension for DuckDB {duckdb.__version__} at {extension}: install "
            f"duckdb-extension-httpfs=={duckdb.__version__} (pyproject.toml)"
        )
    con.execute(f"load {sql_literal(str(extension))}")


def attach_encrypted(con: Any, path: str, key: str) -> str:
    """Attach the encrypted warehouse file to `con` (an in-memory DuckDB) under its usual
    catalog name and make it the default; the key is a bound parameter, never SQL text.
    Returns the catalog name (a cursor must `use` it too: cursors do not inherit it)."""
    import duckdb

    catalog = catalog_name(path)
    _load_openssl(con)
    try:
        con.execute(
            f'attach {sql_literal(path)} as "{catalog}" (encryption_key $1)',
            [key],
        )
    except duckdb.Error as exc:
        raise ScorehouseError(
            f"cannot open DuckDB file {path} with {KEY_ENV}: {str(exc).splitlines()[0]}"
        ) from exc
    con.execute(f'use "{catalog}"')
    # what spills to disk beyond memory_limit is customer data too (off by default)
    con.execute("set temp_file_encryption = true")
    return catalog


# DuckDB's memory while a scoring piece streams through it (its scan and its insert): its
# buffer pool would otherwise keep as much of the input cached as the profile's
# memory_limit allows (a 10M-row input under 4 GB: 4.95 GiB peak RSS). The price: scans
# read from the OS cache, not the pool (1M rows, one piece: 3.7 s -> 4.4 s in the bench).
SCORING_MEMORY = "256MB"


class DuckDBWarehouse(Warehouse):
    name = "duckdb"

    def __init__(self, output: dict[str, Any], create: bool = False) -> None:
        import duckdb

        path = output.get("path", ":memory:")
        if path != ":memory:" and not Path(path).parent.exists():
            raise ScorehouseError(f"DuckDB file directory {Path(path).parent} does not exist")
        if path != ":memory:" and not create and not Path(path).exists():
            raise ScorehouseError(
                f"DuckDB file {Path(path).resolve()} does not exist (target "
                f"'{output['target_name']}'): check its path in profiles.yml or "
                "SCOREHOUSE_DUCKDB_PATH, or create the warehouse with `scorehouse generate`, "
                "`scorehouse load` or `dbt build`"
            )
        key = warehouse_key() if path != ":memory:" else None
        self._catalog: str | None = None
        try:
            if key is None:
                self.con = duckdb.connect(path)
            else:
                self.con = duckdb.connect()
                self._catalog = attach_encrypted(self.con, path, key)
        except duckdb.IOException as exc:
            raise ScorehouseError(
                f"cannot open DuckDB file {path} (one writer at a time: is dbt or another "
                f"scorehouse command using it?): {str(exc).splitlines()[0]}"
            ) from exc
        except duckdb.CatalogException as exc:
            if "without a key" not in str(exc):
                raise _as_user_error(exc) from exc
            raise ScorehouseError(
                f"DuckDB file {path} is encrypted: set {KEY_ENV} to its key (docs/privacy.md)"
            ) from exc
        if output.get("threads"):
            self.con.execute(f"set threads = {int(output['threads'])}")
        self._settings = output.get("settings") or {}
        for name, value in self._settings.items():  # as dbt-duckdb applies them
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

    def exists(self, relation: Relation) -> bool:
        rows = self.con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [relation.schema, relation.identifier],
        ).fetchall()
        return bool(rows)

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

    def write_piece(self, *args: Any, **kwargs: Any) -> int:
        self.con.execute(f"set memory_limit = {sql_literal(SCORING_MEMORY)}")
        try:
            return super().write_piece(*args, **kwargs)
        finally:  # the profile's limit again (its text: reading it back rounds it)
            limit = self._settings.get("memory_limit")
            self.con.execute(
                "reset memory_limit"
                if limit is None
                else f"set memory_limit = {sql_literal(str(limit))}"
            )

    def piece_filters(
        self, relation: Relation, where: str, id_sql: str, by: str, pieces: int
    ) -> list[str]:
        # 'position': equal ranges of the row ids the month's rows span. DuckDB skips the
        # row groups outside a range, so a piece reads its own rows only (a filter on the
        # id costs a scan of every column per piece: 10 pieces read the input 10 times)
        if by != "position" or pieces == 1:
            return super().piece_filters(relation, where, id_sql, by, pieces)
        low, high = self.con.execute(
            f"select min(rowid), max(rowid) from {relation.sql} where {where}"
        ).fetchone()
        low, high = (0, -1) if low is None else (low, high)
        size = -(-(high - low + 1) // pieces)  # ceiling
        return [
            f"rowid >= {low + piece * size} and rowid < {low + (piece + 1) * size}"
            for piece in range(pieces)
        ]

    def row_fingerprint(self, columns: list[str]) -> list[str]:
        # DuckDB's 64-bit hash of the typed values (null included), summed as HUGEINT
        return [f"sum(hash({', '.join(columns)}))"]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        # a second cursor, so its statements may interleave with a stream still reading
        # from the main connection
        writer = self.con.cursor()
        if self._catalog is not None:  # a cursor starts in the in-memory default catalog
            writer.execute(f'use "{self._catalog}"')
        try:
            writer.execute("begin transaction")
            yield writer
            writer.execute("commit")
        except BaseException as exc:
            writer.execute("rollback")
            raise _as_user_error(exc) from exc
        finally:
            writer.close()

    def _insert(self, writer: Any, relation: Relation, table: pa.Table) -> None:
        writer.register("incoming", table)
        writer.execute(f"insert into {relation.sql} by name select * from incoming")
        writer.unregister("incoming")

    def replace_tables(self, chunks: Iterable[tuple[Relation, pa.Table]]) -> dict[str, int]:
        rows: dict[str, int] = {}
        with self._transaction() as writer:
            for relation, chunk in chunks:
                writer.register("incoming", chunk)
                if str(relation) not in rows:
                    writer.execute(f"create schema if not exists {relation.schema_sql}")
                    writer.execute(f"create or replace table {relation.sql} as from incoming")
                    rows[str(relation)] = 0
                else:
                    writer.execute(f"insert into {relation.sql} from incoming")
                writer.unregister("incoming")
                rows[str(relation)] += chunk.num_rows
        return rows

    def close(self) -> None:
        self.con.close()


def release_dbt_handle() -> None:
    """dbt-duckdb keeps a process-wide DuckDB handle on the warehouse file after dbt ran
    in-process: close it, or this process's next connection (and any read-only reader of
    the file) is refused."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
