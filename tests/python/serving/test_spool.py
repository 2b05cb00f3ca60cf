"""The request spool (serving/spool.py): lines round-trip, threads never interleave, files
rotate by size, a SIGKILL keeps every line whose write returned, and no record (NaN, an
object, a cycle, hostile text) makes a write raise or spill onto a second line."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from python_scoring.serving.spool import (
    CLOSED_SUFFIX,
    OPEN_SUFFIX,
    Spool,
    SpoolName,
    encode,
    host_name,
)

from ..conftest import REPO


def _record(i: int, **extra) -> dict:
    return {
        "request_id": f"{i:032x}",
        "received_at": "2026-11-26T08:01:02.123456Z",
        "endpoint": "score",
        "model_name": "churn_lgbm",
        "model_version": "v1",
        "status": 200,
        "latency_ms": 1.25,
        "error": None,
        "rows": [{"entity_id": str(i), "score": i / 1000, "features": {"tenure": i}}],
        **extra,
    }


def _lines(directory: Path) -> list[dict]:
    """Every line of every spool file, each checked complete (ends in a newline)."""
    out = []
    for path in sorted(directory.glob("*.jsonl*")):
        data = path.read_bytes()
        assert data.endswith(b"\n"), path
        out += [json.loads(line) for line in data.splitlines()]
    return out


def test_lines_round_trip_and_the_file_is_closed_by_close(tmp_path):
    directory = tmp_path / "spool"
    spool = Spool(directory)
    assert spool.path is None and list(directory.iterdir()) == []  # created on first write
    records = [_record(i) for i in range(5)]
    for record in records:
        spool.write(record)
    path = spool.path
    name = SpoolName.parse(path.name)
    assert path.name.endswith(OPEN_SUFFIX) and not name.closed
    assert (name.host, name.pid) == (host_name(), os.getpid())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    spool.close()
    (closed,) = directory.iterdir()
    assert closed.name == path.name.removesuffix(OPEN_SUFFIX) + CLOSED_SUFFIX
    assert SpoolName.parse(closed.name).closed
    assert _lines(directory) == records
    assert closed.read_bytes().count(b"\n") == 5
    spool.close()  # nothing open: a no-op
    spool.write(records[0])  # a write after close opens a new file
    spool.close()
    assert len(list(directory.iterdir())) == 2


def test_threads_write_whole_lines(tmp_path):
    spool = Spool(tmp_path, max_bytes=50_000)  # rotations while the threads write
    threads, writes = 8, 400

    def work(t: int) -> None:
        for i in range(writes):
            spool.write(_record(t * writes + i, error="x" * (i % 50)))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    spool.close()
    lines = _lines(tmp_path)
    assert len(lines) == threads * writes
    assert sorted(int(r["request_id"], 16) for r in lines) == list(range(threads * writes))
    assert len(list(tmp_path.glob(f"*{CLOSED_SUFFIX}"))) > 1


def test_files_rotate_by_size(tmp_path):
    def record(i: int) -> dict:  # every line the same length
        return _record(i, rows=[{"entity_id": "e", "score": 0.5, "features": None}])

    line = len(encode(record(0)))
    spool = Spool(tmp_path, max_bytes=3 * line)
    for i in range(10):
        spool.write(record(i))
    spool.close()
    files = sorted(tmp_path.iterdir(), key=lambda p: SpoolName.parse(p.name).opened_at)
    # rotated before a line would pass max_bytes: 3 + 3 + 3 + 1 lines
    assert [p.stat().st_size for p in files] == [3 * line, 3 * line, 3 * line, line]
    assert all(p.name.endswith(CLOSED_SUFFIX) for p in files)
    assert len({p.name for p in files}) == 4
    assert [r["request_id"] for r in _lines(tmp_path)] == [f"{i:032x}" for i in range(10)]
    # a line longer than max_bytes gets a file of its own
    spool = Spool(tmp_path / "big", max_bytes=10)
    spool.write(_record(1))
    spool.write(_record(2))
    spool.close()
    assert len(list((tmp_path / "big").iterdir())) == 2


_KILLED = """
import os, sys
from pathlib import Path
from python_scoring.serving.spool import Spool

spool = Spool(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    spool.write({"request_id": str(i), "rows": [{"score": i / 7, "features": {"x": "y" * i}}]})
os.kill(os.getpid(), 9)
"""


def test_a_sigkill_keeps_every_written_line(tmp_path):
    k = 500
    done = subprocess.run(
        [sys.executable, "-c", _KILLED, str(tmp_path), str(k)], cwd=REPO, capture_output=True
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    (left,) = tmp_path.iterdir()
    assert left.name.endswith(OPEN_SUFFIX)  # never closed: the ingestion closes it
    assert SpoolName.parse(left.name).pid not in (os.getpid(), None)
    lines = _lines(tmp_path)
    assert [r["request_id"] for r in lines] == [str(i) for i in range(k)]
    assert lines[-1]["rows"][0]["features"]["x"] == "y" * (k - 1)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_unserialisable_values_are_written_as_text(tmp_path):
    cyclic: list = [1]
    cyclic.append(cyclic)
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    spool = Spool(tmp_path)
    records = [
        _record(1, latency_ms=float("nan")),
        _record(2, rows=[{"entity_id": "2", "score": float("inf"), "features": {"a": -1e999}}]),
        _record(3, error=object()),
        _record(4, rows=[{"features": {(1, 2): "tuple key", 3: "int key"}}]),
        _record(5, rows=[{"features": {"cycle": cyclic}}]),
        _record(6, rows=[{"features": {"deep": deep}}]),
        _record(7, error=_Unprintable()),
        _record(8, received_at=b"bytes"),
    ]
    for record in records:
        spool.write(record)  # never raises
    spool.close()
    lines = _lines(tmp_path)
    assert len(lines) == len(records)
    assert lines[0]["latency_ms"] == "nan" and lines[0]["request_id"] == f"{1:032x}"
    assert lines[1]["rows"][0]["score"] == "inf"
    assert lines[1]["rows"][0]["features"] == {"a": "-inf"}
    assert lines[2]["error"].startswith("<object object")
    assert lines[3]["rows"][0]["features"] == {"(1, 2)": "tuple key", "3": "int key"}
    assert lines[4]["rows"][0]["features"]["cycle"][0] == 1
    assert isinstance(lines[4]["rows"][0]["features"]["cycle"][1], str)
    assert isinstance(lines[5]["rows"][0]["features"]["deep"], list)
    assert "_Unprintable object at" in lines[6]["error"]  # its repr
    assert lines[7]["received_at"] == "b'bytes'"
    # every other field of a fixed record is kept as it was
    assert all(line["status"] == 200 and line["model_name"] == "churn_lgbm" for line in lines)


@pytest.mark.parametrize(
    "hostile",
    [
        "two\nlines",
        "carriage\rreturn\r\n",
        'quote " and \\ backslash',
        "</script><script>alert(1)</script>",
        "line\u2028separator\u2029paragraph",
        "lone surrogate \ud800",
        "nul \x00 byte",
        "emoji 😀 and 中文",
    ],
)
def test_hostile_strings_stay_in_one_line(tmp_path, hostile):
    spool = Spool(tmp_path)
    spool.write(_record(1, error=hostile, rows=[{"entity_id": hostile, "features": {hostile: 1}}]))
    spool.close()
    (path,) = tmp_path.iterdir()
    data = path.read_bytes()
    assert data.count(b"\n") == 1 and data.endswith(b"\n") and data.isascii()
    (line,) = _lines(tmp_path)
    assert line["error"] == hostile and line["rows"][0]["entity_id"] == hostile
    assert line["rows"][0]["features"] == {hostile: 1}


def test_a_forked_child_writes_its_own_file(tmp_path):
    spool = Spool(tmp_path)
    spool.write(_record(0))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            spool.write(_record(1))
            spool.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    spool.write(_record(2))
    spool.close()
    by_pid = {}
    for path in tmp_path.iterdir():
        name = SpoolName.parse(path.name)
        assert name.closed
        lines = path.read_bytes().splitlines()
        by_pid[name.pid] = [json.loads(line)["request_id"] for line in lines]
    assert by_pid == {os.getpid(): [f"{0:032x}", f"{2:032x}"], pid: [f"{1:032x}"]}


def test_names_parse_with_dashes_in_the_host():
    name = SpoolName.parse("web-01.example-7-20261126T080102123456Z.jsonl.open")
    assert (name.host, name.pid, name.closed) == ("web-01.example", 7, False)
    assert name.opened_at.isoformat() == "2026-11-26T08:01:02.123456"
    assert SpoolName.parse("web-7-20261126T080102123456Z.jsonl").closed
    for other in ("notes.txt", "x-1-2026.jsonl", "host-pid-20261126T080102123456Z.jsonl"):
        assert SpoolName.parse(other) is None
