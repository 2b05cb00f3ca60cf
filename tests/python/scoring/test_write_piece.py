"""Warehouse.write_piece scores a batch on a second thread while it writes the one before:
the rows keep their order, and a failing batch rolls the whole piece back."""

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
