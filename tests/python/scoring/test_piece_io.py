"""What scoring reads and writes per piece: Warehouse.write_piece scores a batch on a
second thread while it writes the one before (the rows keep their order, a failing batch
rolls the whole piece back); piece_filters split a month's rows (by id, or by DuckDB row
position); row_fingerprint tells a changed input from the same one."""

from __future__ import annotations

import pyarrow as pa
import pytest

from python_scoring import warehouse
from python_scoring.errors import ScorehouseError
from python_scoring.project import Relation
from python_scoring.warehouse._duckdb import DuckDBWarehouse


@pytest.fixture
def wh(tmp_path, monkeypatch):
    monkeypatch.setattr(warehouse, "BATCH_ROWS", 1_000)  # many batches in flight
    wh = DuckDBWarehouse({"type": "duckdb", "path": str(tmp_path / "w.duckdb")}, create=True)
    wh.con.execute("create table source as select range as id from range(10500)")
    wh.con.execute("create table staging (id bigint, twice bigint, piece integer)")
    yield wh
    wh.close()


def doubled(frame) -> pa.Table:
    ids = frame["id"].to_numpy()
    return pa.table(
        {"id": ids, "twice": ids * 2, "piece": pa.repeat(pa.scalar(0, pa.int32()), len(ids))}
    )


def test_every_batch_is_written_once_in_order(wh):
    advanced = []
    rows = wh.write_piece(
        Relation(None, "main", "staging"), 0, "select id from source", doubled, advanced.append
    )
    assert rows == 10500 and sum(advanced) == 10500 and len(advanced) == 11
    written = wh.con.execute("select id, twice from staging order by rowid").fetchall()
    assert written == [(i, 2 * i) for i in range(10500)]


def test_a_batch_that_fails_leaves_the_piece_as_it_was(wh):
    staging = Relation(None, "main", "staging")
    wh.con.execute("insert into staging values (-1, -2, 0)")  # an earlier run's piece 0

    def fails_on_the_sixth(frame):
        if frame["id"].iloc[0] == 5000:
            raise ValueError("batch 6 cannot be scored")
        return doubled(frame)

    with pytest.raises((ValueError, ScorehouseError), match="batch 6"):
        wh.write_piece(staging, 0, "select id from source", fails_on_the_sixth, lambda n: None)
    assert wh.con.execute("select id, twice from staging").fetchall() == [(-1, -2)]


@pytest.mark.parametrize("engine_sql", ["duckdb", "portable"])
def test_the_fingerprint_changes_with_any_value_and_not_with_the_order(wh, engine_sql):
    """DuckDB's hash sum and the portable md5 sums (PostgreSQL's): one value changed, two
    values swapped within a row, a value made null each change it; the rows' order not."""
    wh.con.execute(
        "create table t as select cast(range as varchar) as id, range * 0.5 as a, "
        "cast(range % 7 as double) as b from range(2000)"
    )
    sums = (
        wh.row_fingerprint(["id", "a", "b"])
        if engine_sql == "duckdb"
        else warehouse.Warehouse.row_fingerprint(wh, ["id", "a", "b"])
    )

    def fingerprint(source: str) -> tuple:
        return wh.con.execute(f"select {', '.join(sums)} from {source}").fetchone()

    same = fingerprint("t")
    assert fingerprint("(select * from t order by random())") == same
    assert (
        fingerprint("(select id, case when id = '7' then a + 1e-9 else a end as a, b from t)")
        != same
    )
    assert (
        fingerprint(
            "(select id, case when id = '9' then b else a end as a, "
            "case when id = '9' then a else b end as b from t)"
        )
        != same
    )
    assert fingerprint("(select id, case when id <> '3' then a end as a, b from t)") != same


@pytest.mark.parametrize("by", ["last_digit", "hash", "position"])
@pytest.mark.parametrize("pieces", [1, 3, 7, 10])
def test_piece_filters_put_each_row_of_the_month_in_one_piece(wh, by, pieces):
    """Three months' rows interleaved in one table (position ranges span the others')."""
    wh.con.execute(
        "create table months as select cast(range as varchar) as id, "
        "date '2025-01-01' + to_months(cast(range % 3 as integer)) as month from range(3001)"
    )
    relation = Relation(None, "main", "months")
    where = "month = date '2025-02-01'"
    seen = []
    for condition in wh.piece_filters(relation, where, "id", by, pieces):
        seen += wh.con.execute(f"select id from months where {where} and {condition}").fetchall()
    assert sorted(seen) == sorted(wh.con.execute(f"select id from months where {where}").fetchall())
    assert len(seen) == 1000


def test_position_pieces_are_refused_where_there_are_no_row_ids(wh):
    with pytest.raises(ScorehouseError, match="piece_by 'position' splits by DuckDB's row ids"):
        warehouse.Warehouse.piece_filters(
            wh, Relation(None, "main", "source"), "1 = 1", "id", "position", 2
        )


@pytest.mark.parametrize("profile_limit", [None, "1GB"])
def test_a_piece_is_written_under_the_scoring_memory_limit_then_the_profiles(
    tmp_path, monkeypatch, profile_limit
):
    """DuckDB's buffer pool would keep the input cached up to the profile's memory_limit:
    a piece runs under SCORING_MEMORY, then the profile's limit (or DuckDB's default) is back."""
    from python_scoring.warehouse import _duckdb

    settings = {"memory_limit": profile_limit} if profile_limit else {}
    wh = DuckDBWarehouse(
        {"type": "duckdb", "path": str(tmp_path / "m.duckdb"), "settings": settings}, create=True
    )
    limit = "select current_setting('memory_limit')"
    before = wh.con.execute(limit).fetchone()[0]
    wh.con.execute("create table source as select range as id from range(10)")
    wh.con.execute("create table staging (id bigint, twice bigint, piece integer)")
    during = []

    def noting_the_limit(frame):
        during.append(wh.con.cursor().execute(limit).fetchone()[0])
        return doubled(frame)

    staging = Relation(None, "main", "staging")
    wh.write_piece(staging, 0, "select id from source", noting_the_limit, lambda n: None)
    assert during == ["244.1 MiB"] and _duckdb.SCORING_MEMORY == "256MB"
    assert wh.con.execute(limit).fetchone()[0] == before != "244.1 MiB"
    wh.close()
