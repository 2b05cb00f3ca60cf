"""The request log of `scorehouse serve`: an append-only spool of JSON lines on local disk,
one file per process, ingested into ml.online_requests later (serving/ingest.py).

Each process writes `<directory>/<host>-<pid>-<UTC time>.jsonl.open` (created on its first
write, mode 0600 in a 0700 directory) and renames it to `.jsonl` when it closes it: on
`rotate()`, when the next line would take it past `max_bytes`, and at shutdown
(`close()`). A `.jsonl` file is complete; a `.jsonl.open` file is being written, or its
writer died (the ingestion closes it once the writer's pid is gone).

Crash safety: each line is ONE `os.write` of the whole JSON text plus "\\n" to a file
descriptor opened with O_APPEND. Once `write` returns, the line is in the kernel's page
cache and survives a SIGKILL of the process; no other process writes the file and the
lock orders this process's threads, so lines never interleave. Only a power loss (or a
full disk) can leave a torn last line, which the ingestion skips and counts. `fsync=True`
also survives a power loss, at the cost of one fsync per line (docs: µs per line).

A record that JSON cannot hold (NaN, an object, a cyclic list, a key that is not text)
never raises: the offending values are written as text (`_jsonable`).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
import os
import re
import socket
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPEN_SUFFIX = ".jsonl.open"
CLOSED_SUFFIX = ".jsonl"
INGESTED = "ingested"  # the subdirectory serving/ingest.py moves loaded files to
MAX_BYTES = 64 * 2**20
_STAMP = "%Y%m%dT%H%M%S%fZ"  # 20261126T080102123456Z: UTC, sorts by time
_NAME = re.compile(
    r"^(?P<host>.+)-(?P<pid>\d+)-(?P<stamp>\d{8}T\d{12}Z)(?P<suffix>\.jsonl(?:\.open)?)$"
)
_MAX_DEPTH = 100  # nesting kept by _jsonable; deeper values are written as text
# json.dumps(record, separators=(",", ":"), allow_nan=False, default=str), built once
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str)


def host_name() -> str:
    """This host's name as spool file names hold it (characters outside [A-Za-z0-9._-]
    replaced by _)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "host"


@dataclass(frozen=True)
class SpoolName:
    """What a spool file's name says: the writer's host and pid, when it opened the file
    (UTC, naive) and whether the writer closed it."""

    host: str
    pid: int
    opened_at: dt.datetime
    closed: bool

    @staticmethod
    def parse(name: str) -> SpoolName | None:
        """The parts of a spool file name; None for any other file name."""
        found = _NAME.match(name)
        if found is None:
            return None
        try:
            opened_at = dt.datetime.strptime(found["stamp"], _STAMP)
        except ValueError:
            return None
        closed = found["suffix"] == CLOSED_SUFFIX
        return SpoolName(found["host"], int(found["pid"]), opened_at, closed)


def encode(record: dict[str, Any]) -> bytes:
    """One JSON line (ASCII, ending in "\\n"). A record JSON cannot hold as it is gets its
    offending values as text instead of raising."""
    try:
        text = _ENCODER.encode(record)
    except Exception:  # NaN, a key that is not text, a cycle, a __str__ that raises, ...
        try:
            text = _ENCODER.encode(_jsonable(record, 0, set()))
        except (ValueError, TypeError, RecursionError):  # pragma: no cover - _jsonable is total
            text = json.dumps({"unserialisable_record": _text(record)})
    # ensure_ascii (the default): no raw newline, U+2028 or lone surrogate reaches the file
    return text.encode("ascii") + b"\n"


def _jsonable(value: Any, depth: int, seen: set[int]) -> Any:
    """`value` with everything JSON cannot hold as text: NaN and infinities ("nan",
    "inf"), keys that are not text, objects (str), cycles and nesting deeper than
    _MAX_DEPTH."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict | list | tuple):
        if depth >= _MAX_DEPTH or id(value) in seen:
            return _text(value)
        seen = seen | {id(value)}
        if isinstance(value, dict):
            return {
                key if isinstance(key, str) else _text(key): _jsonable(item, depth + 1, seen)
                for key, item in value.items()
            }
        return [_jsonable(item, depth + 1, seen) for item in value]
    return _text(value)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # an object whose __str__ raises
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"


# every Spool of this process, reset in a forked child (its file and lock are the parent's)
_SPOOLS: weakref.WeakSet[Spool] = weakref.WeakSet()


class Spool:
    """Append-only JSON-lines files of one process; thread-safe (one lock around each
    write and rotation). See the module doc for the files and their guarantees."""

    def __init__(self, directory: Path, fsync: bool = False, max_bytes: int = MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.directory = Path(directory)
        self.fsync = fsync
        self.max_bytes = max_bytes
        # mode 0700 when created here (an existing directory keeps the mode it was given)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._pid = os.getpid()
        _SPOOLS.add(self)

    @property
    def path(self) -> Path | None:
        """The file being written (`.jsonl.open`), None before the first write and after a
        rotation."""
        return self._path

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one JSON line. Raises OSError only when the disk refuses
        the line (full, read-only); the file then ends where the refused line began or
        with its torn start, is closed, and the next line goes to a new file."""
        line = encode(record)
        with self._lock:
            if self._fd is not None and self._size + len(line) > self.max_bytes:
                self._close_file()
            if self._fd is None:
                self._open_file()
            assert self._fd is not None
            try:
                written = os.write(self._fd, line)
                if written != len(line):  # a regular file only writes short when full
                    raise OSError(errno.ENOSPC, "short write to the request spool", self._path)
                if self.fsync:
                    os.fsync(self._fd)
            except OSError:
                self._close_file()  # a torn line must not run into the next one
                raise
            self._size += written

    def rotate(self) -> None:
        """Close the current file: `<name>.jsonl.open` -> `<name>.jsonl` (no-op when no
        file is open). The next write opens a new file."""
        with self._lock:
            if self._fd is not None:
                self._close_file()

    def close(self) -> None:
        """At shutdown: `rotate`."""
        self.rotate()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- under the lock ------------------------------------------------------------
    def _open_file(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        while True:  # a name is never reused, even within one microsecond
            stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
            stem = f"{host_name()}-{os.getpid()}-{stamp}"
            path = self.directory / f"{stem}{OPEN_SUFFIX}"
            closed = [self.directory / f"{stem}{CLOSED_SUFFIX}"]
            closed.append(self.directory / INGESTED / closed[0].name)
            if any(c.exists() for c in closed):  # its rename would replace a closed file
                continue
            try:
                self._fd = os.open(path, flags, 0o600)
                break
            except FileExistsError:
                continue
        self._path, self._size, self._pid = path, 0, os.getpid()
        if self.fsync:
            _fsync_directory(self.directory)  # the new name survives a power loss too

    def _close_file(self) -> None:
        fd, path = self._fd, self._path
        self._fd, self._path, self._size = None, None, 0
        if fd is None or path is None:
            return
        try:
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(path, path.with_name(path.name.removesuffix(OPEN_SUFFIX) + CLOSED_SUFFIX))
        if self.fsync:
            _fsync_directory(self.directory)

    def _forget_parents_file(self) -> None:
        """In a forked child: the open file is the parent's (its pid in the name), and the
        lock may have been held by a parent thread at the fork. Start afresh; the
        parent's descriptor copy is closed, not the parent's file."""
        self._lock = threading.Lock()
        if self._fd is not None and self._pid != os.getpid():
            os.close(self._fd)
            self._fd, self._path, self._size = None, None, 0


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _after_fork_in_child() -> None:
    for spool in list(_SPOOLS):
        spool._forget_parents_file()


os.register_at_fork(after_in_child=_after_fork_in_child)
