"""PostgreSQL 15 / Greenplum through psycopg2 (the driver dbt-postgres uses).

Bulk paths only: reads are `COPY (query) TO STDOUT` parsed by Arrow's CSV reader (whole
results) or a server-side cursor (streams, on a second connection so that writes can
commit while a stream is open); writes are `COPY ... FROM STDIN` of Arrow's CSV, inside
one transaction per call.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from python_scoring.errors import ScorehouseError
from python_scoring.project import Relation
from python_scoring.warehouse import Warehouse, sql_literal

# PostgreSQL type oids -> Arrow types of the results we read (anything else: text)
_ARROW_OF_OID = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),  # numeric: sums and averages
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


_SSL_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def _pg_type(arrow_type: pa.DataType) -> str:
    """The column type a table written from Arrow gets."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type):
        return "smallint"
    if pa.types.is_int32(arrow_type) or pa.types.is_uint16(arrow_type):
        return "integer"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "double precision"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    raise ScorehouseError(f"no PostgreSQL column type for Arrow type {arrow_type}")


def _csv(table: pa.Table) -> io.BytesIO:
    """Arrow as CSV the way COPY reads it: nulls unquoted and empty, strings quoted (so an
    empty string stays an empty string)."""
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    return buffer


def _float_or_none(value: str | None, _cursor: Any) -> float | None:
    return None if value is None else float(value)


class PostgresWarehouse(Warehouse):
    name = "postgres"

    def __init__(self, output: dict[str, Any]) -> None:
        import psycopg2

        self._errors = psycopg2.Error
        self._connection_errors = (psycopg2.OperationalError, psycopg2.InterfaceError)
        self._lost_because: str | None = None  # the first lost connection's reason
        params = {
            "host": output.get("host"),
            "port": int(output.get("port", 5432)),
            "user": output.get("user"),
            "password": output.get("password") or output.get("pass"),
            "dbname": output.get("dbname") or output.get("database"),
            "connect_timeout": int(output.get("connect_timeout", 10)),
            "application_name": "scorehouse",
            # TLS as dbt-postgres does it: the profile's sslmode and certificate files
            **{key: output[key] for key in _SSL_KEYS if output.get(key)},
        }
        where = f"{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
        try:
            self.con = psycopg2.connect(**params)  # writes, one transaction per call
            # reads see committed data only; each stream opens a connection of its own
            self._reader = psycopg2.connect(**params)
        except psycopg2.OperationalError as exc:
            raise ScorehouseError(
                f"cannot connect to PostgreSQL {where} (target '{output['target_name']}'): "
                f"{str(exc).strip().splitlines()[0]}. A local test server: `make pg-start`"
            ) from exc
        self._reader.set_session(readonly=True, autocommit=True)
        self._params = params
        self._connect = psycopg2.connect

    def _error(self, exc: BaseException, suffix: str = "") -> BaseException:
        """Every psycopg2 error as one line; a lost connection (the server restarted or
        stopped, the session terminated, the network gone) says so and to rerun."""
        if isinstance(exc, self._errors):
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if self._lost(exc):
                # what ended the connection, not what each later call finds (the lock's
                # release after a lost piece: "connection already closed")
                self._lost_because = self._lost_because or message
                where = f"{self._params['host']}:{self._params['port']}"
                return ScorehouseError(
                    f"the connection to PostgreSQL {where} was lost ({self._lost_because}): "
                    "the server rolls back a write in progress; rerun the command once it "
                    "accepts connections again"
                )
            return ScorehouseError(f"PostgreSQL: {message}{suffix}")
        return exc

    def _lost(self, exc: BaseException) -> bool:
        """A connection that is gone: psycopg2's InterfaceError (a closed connection), or
        an OperationalError from libpq itself (no SQLSTATE: the server closed the
        connection, refused it) or of class 57P (admin shutdown, crash shutdown, cannot
        connect now). Other OperationalErrors (a cancelled query, a full disk, a
        deadlock) are the server answering, the connection intact."""
        if not isinstance(exc, self._connection_errors):
            return False
        code = getattr(exc, "pgcode", None)
        return isinstance(exc, self._connection_errors[1]) or code is None or code[:3] == "57P"

    # ---- reads ---------------------------------------------------------------------
    def _result_schema(self, cursor: Any, sql: str) -> pa.Schema:
        cursor.execute(f"select * from ({sql}) as result limit 0")
        return pa.schema(
            [(d.name, _ARROW_OF_OID.get(d.type_code, pa.string())) for d in cursor.description]
        )

    def query_arrow(self, sql: str) -> pa.Table:
        buffer = io.BytesIO()
        try:
            with self._reader.cursor() as cursor:
                schema = self._result_schema(cursor, sql)
                cursor.copy_expert(f"copy ({sql}) to stdout with (format csv)", buffer)
        except BaseException as exc:
            raise self._error(exc) from exc
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            return schema.empty_table()
        return pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(column_names=schema.names),
            convert_options=pa_csv.ConvertOptions(
                column_types=schema,
                # COPY writes null as an unquoted empty field and an empty string as "":
                # only that is null (pyarrow's defaults would also null the text NA, n/a,
                # null, NaN, ...: a category value or the marts' status 'n/a')
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],  # how COPY writes booleans
                false_values=["f"],
            ),
        )

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        import psycopg2.extensions as ext

        try:
            con = self._connect(**self._params)
        except self._errors as exc:
            raise self._error(exc) from exc
        con.set_session(readonly=True)
        # numeric as float (Arrow's float64), not Decimal objects
        as_float = ext.new_type(ext.DECIMAL.values, "NUMERIC_AS_FLOAT", _float_or_none)
        ext.register_type(as_float, con)
        try:
            with con.cursor() as probe:
                schema = self._result_schema(probe, sql)
            # a server-side cursor: the server holds the result, we fetch a batch at a time
            with con.cursor(name="scorehouse_stream") as cursor:
                cursor.itersize = batch_rows
                cursor.execute(sql)
                while rows := cursor.fetchmany(batch_rows):
                    columns = zip(*rows, strict=True)
                    yield pa.RecordBatch.from_arrays(
                        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                        schema=schema,
                    )
        except self._errors as exc:
            raise self._error(exc) from exc
        finally:
            con.close()

    def _where_relation(self, relation: Relation) -> str:
        return (
            f"table_schema = {sql_literal(relation.schema)} "
            f"and table_name = {sql_literal(relation.identifier)}"
        )

    def columns(self, relation: Relation) -> list[str]:
        rows = self.query_arrow(
            "select column_name from information_schema.columns where "
            f"{self._where_relation(relation)} order by ordinal_position"
        ).column(0)
        if not len(rows):
            raise ScorehouseError(f"table {relation} does not exist: run `dbt build` first")
        return rows.to_pylist()

    def exists(self, relation: Relation) -> bool:
        found = self.query_arrow(
            f"select 1 from information_schema.tables where {self._where_relation(relation)}"
        )
        return found.num_rows > 0

    # ---- SQL -------------------------------------------------------------------------
    def as_text(self, expr: str) -> str:
        return f"cast({expr} as text)"

    def piece_expression(self, id_sql: str, by: str) -> str:
        text = self.as_text(id_sql)
        # bit(32) -> bigint keeps the 32 bits unsigned (0 .. 2^32-1), as DuckDB's ubigint
        hashed = f"cast(cast(('x' || substr(md5({text}), 1, 8)) as bit(32)) as bigint)"
        if by == "hash":
            return hashed
        last = f"right({text}, 1)"
        # a regex, not `between '0' and '9'`: that compares by collation
        return f"(case when {last} ~ '^[0-9]$' then cast({last} as bigint) else {hashed} end)"

    # ---- writes ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        try:
            with self.con.cursor() as writer:
                yield writer
            self.con.commit()
        except BaseException as exc:
            if not self.con.closed:  # a lost connection has no transaction left to undo
                with contextlib.suppress(self._errors):
                    self.con.rollback()
            raise self._error(exc, " (nothing was written)") from exc

    def _insert(self, writer: Any, relation: Relation, table: pa.Table) -> None:
        if not table.num_rows:
            return
        columns = ", ".join(table.column_names)
        writer.copy_expert(
            f"copy {relation.sql} ({columns}) from stdin with (format csv)", _csv(table)
        )

    def replace_tables(self, chunks: Iterable[tuple[Relation, pa.Table]]) -> dict[str, int]:
        rows: dict[str, int] = {}
        with self._transaction() as writer:
            for relation, chunk in chunks:
                if str(relation) not in rows:
                    self._empty_table(writer, relation, chunk.schema)
                    rows[str(relation)] = 0
                self._insert(writer, relation, chunk)
                rows[str(relation)] += chunk.num_rows
        return rows

    def replace_slices(self, slices: Iterable[tuple[Relation, dict[str, Any], pa.Table]]) -> None:
        slices = list(slices)
        super().replace_slices(slices)
        # fresh statistics for the SQL that joins these tables next (the rule tables feed
        # the cross-sell marts): on tables without them PostgreSQL guessed one row per
        # join and nested-looped for minutes
        self.execute(*(f"analyze {relation.sql}" for relation, _, _ in slices))

    def _empty_table(self, writer: Any, relation: Relation, schema: pa.Schema) -> None:
        """An empty table with the schema's columns: truncated when it exists with those
        columns (so the staging views built on it stay), else created anew."""
        if self.exists(relation) and self.columns(relation) == schema.names:
            writer.execute(f"truncate table {relation.sql}")
            return
        columns = ", ".join(f"{f.name} {_pg_type(f.type)}" for f in schema)
        writer.execute(f"create schema if not exists {relation.schema_sql}")
        writer.execute(f"drop table if exists {relation.sql} cascade")
        writer.execute(f"create table {relation.sql} ({columns})")

    def close(self) -> None:
        self.con.close()
        self._reader.close()
