"""Load on the online scoring service (`scorehouse serve`, python_scoring/serving/app.py):
latency under an open-loop constant request rate, the highest rate holding p99 < 10 ms,
and the 1,000-row batch endpoint against in-memory prediction. One run, figures and
ratios printed, each next to the reference it is measured against.

The generator is open-loop: request i is due at t0 + i / rate whatever happened before,
and its latency runs from that DUE time to the last byte of the response, so a queue in
the server or in the generator itself shows as latency (no coordinated omission). It runs
in its own process (asyncio, uvloop when installed, raw HTTP/1.1 on keep-alive loopback
connections, requests encoded before the clock starts, a new connection whenever none is
idle, up to --max-connections). Its own cost is measured the same way, at the same rates:

  floor, raw       the generator against a minimal asyncio HTTP server (another process):
                   generator + loopback HTTP (also at --floor-extra, 2,000 and 4,000/s)
  floor, /healthz  GET /healthz of the scorehouse server: + uvicorn, FastAPI, middleware

Per server (started here, `--workers` passed through; a list runs one server after the
other, each on a free port, stopped by its process id, group included, on exit or Ctrl-C):

1. POST /v1/models/churn_lgbm/score, one row a request (the snapshot's scoring input, a
   different row each request; 3 reasons) at --rates (100, 500, 1,000/s) for --duration
   (60 s) after --warmup (5 s, excluded); score-by-id, one id, at --by-id-rate (500/s);
2. the highest rate, from --search-from (500/s) up by --search-step (250/s), --search-duration
   (20 s) each, whose p99 stays under --p99-ms (10 ms) with no error;
3. 1,000-row requests, closed loop (one at a time), median of --repeats (9) after
   --batch-warmup (3):
   rows/s against the reference, `Booster.predict` of the artifact's LightGBM booster on the
   same 1,000 rows in memory (transformed by features.pipeline.model_input, float64, one
   thread as the server's workers predict; timed the same way); for context
   scoring.task.scored_table on the same rows in memory (transform, lleaves, reasons; the
   scoring model built as the service builds it), and on one row a call.

    .venv/bin/python bench/serve_load.py                         # about 12 min a server
    .venv/bin/python bench/serve_load.py --workers 1,2           # both, one after the other
    .venv/bin/python bench/serve_load.py --duration 10 --search-duration 5 --floor-duration 5

Waits (up to --quiet-wait s) for the 1-minute load average to fall under --quiet-load
first. Work files (server logs, its request spool) and a JSON of the figures under
bench/results/serve_load/ (the spool deleted after each server).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import gc
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "bench" / "results" / "serve_load"
MODEL = "churn_lgbm"
BATCH_ROWS = 1000
SEED = 20251201
TICK = os.sysconf("SC_CLK_TCK")
IDLE_MAX = 4.0  # s: an idle connection older than this is closed (uvicorn keeps 5 s)
VERSIONS = ["uvicorn", "fastapi", "starlette", "pydantic", "uvloop", "httptools", "lightgbm"]
VERSIONS += ["lleaves", "pyarrow", "numpy", "pandas"]


# ---- the generator (runs in its own process) ----------------------------------------------
class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: write a request, await status and body
    (Content-Length framing, as uvicorn answers)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.alive = True
        self.reusable = True
        self.last_used = 0.0
        self.keep_body = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.alive = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self.waiter.set_exception(ConnectionError("answer without content-length"))
            return
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop >= 0 else None])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : total]) if self.keep_body else b""
        del self.buffer[:total]
        self.reusable = b"\r\nconnection: close" not in head
        self.waiter.set_result((status, body))

    def request(self, data: bytes, keep_body: bool = False) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.keep_body = keep_body
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.alive = False
        if self.transport is not None:
            self.transport.close()


class _Pool:
    """Keep-alive connections, the most recently used first; a new one when none is idle
    (up to `limit`, then requests wait for one: that wait counts in their latency)."""

    def __init__(self, port: int, limit: int) -> None:
        self.port, self.limit = port, limit
        self.idle: list[_Conn] = []
        self.every: set[_Conn] = set()
        self.waiting: collections.deque[asyncio.Future] = collections.deque()
        self.open = 0
        self.opened = 0
        self.peak = 0

    async def acquire(self) -> _Conn:
        loop = asyncio.get_running_loop()
        while True:
            now = time.perf_counter()
            while self.idle:
                conn = self.idle.pop()
                if conn.alive and now - conn.last_used < IDLE_MAX:
                    return conn
                self.discard(conn)
            if self.open < self.limit:
                self.open += 1
                try:
                    _, conn = await loop.create_connection(_Conn, "127.0.0.1", self.port)
                except OSError:
                    self.open -= 1
                    raise
                self.opened += 1
                self.every.add(conn)
                self.peak = max(self.peak, self.open)
                return conn
            future = loop.create_future()
            self.waiting.append(future)
            conn = await future
            if conn is not None:
                return conn

    def release(self, conn: _Conn, ok: bool) -> None:
        if not (ok and conn.alive and conn.reusable):
            self.discard(conn)
            if self.waiting:
                self.waiting.popleft().set_result(None)  # the waiter opens a new one
            return
        conn.last_used = time.perf_counter()
        if self.waiting:
            self.waiting.popleft().set_result(conn)
        else:
            self.idle.append(conn)

    def discard(self, conn: _Conn) -> None:
        conn.close()
        self.every.discard(conn)
        self.open -= 1

    def close(self) -> None:
        """Every connection, those of requests given up on too."""
        for conn in list(self.every):
            self.discard(conn)
        self.idle.clear()


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


async def _open_loop(port, requests, rate, warmup, duration, drain, limit, give_up) -> dict:
    """`give_up`: stop sending once that many requests are in flight (a search step that
    has failed; the requests never sent count as errors)."""
    loop = asyncio.get_running_loop()
    pool = _Pool(port, limit)
    n_warm = round(warmup * rate)
    n = n_warm + round(duration * rate)
    interval = 1.0 / rate
    end = [0.0] * n
    sent = [0.0] * n
    status = [0] * n  # 0: no answer, -1: connection error
    in_flight = set()

    async def one(i: int) -> None:
        conn = None
        try:
            conn = await pool.acquire()
            sent[i] = time.perf_counter()
            code, _ = await conn.request(requests[i % len(requests)])
            end[i] = time.perf_counter()
            status[i] = code
            pool.release(conn, True)
        except (OSError, ConnectionError):
            end[i] = time.perf_counter()
            status[i] = -1
            if conn is not None:
                pool.release(conn, False)

    gc.collect()
    gc.freeze()  # the encoded requests and these lists: no collection walks them mid-run
    cpu = time.process_time()
    t0 = time.perf_counter() + 0.05
    launched = abandoned = 0
    done = loop.create_future()

    def launch() -> None:
        """Start every request due by now, then sleep until the next one is due: a one-shot
        interval timer (SIGALRM, to the microsecond; asyncio's and uvloop's own timers wake
        to the millisecond, and uvloop spins on the shorter delays)."""
        nonlocal launched, abandoned
        now = time.perf_counter()
        if give_up and len(in_flight) > give_up:
            abandoned = n - launched
            launched = n
        while launched < n and t0 + launched * interval <= now:
            task = loop.create_task(one(launched))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            launched += 1
        if launched < n:
            delay = t0 + launched * interval - time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, max(delay, 1e-6))
        elif not done.done():
            done.set_result(None)

    loop.add_signal_handler(signal.SIGALRM, launch)
    try:
        launch()
        await done
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        loop.remove_signal_handler(signal.SIGALRM)
    schedule_end = time.perf_counter()
    if in_flight:
        await asyncio.wait(set(in_flight), timeout=drain)
    unanswered = len(in_flight)
    for task in list(in_flight):
        task.cancel()
    await asyncio.sleep(0)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu
    pool.close()

    measured = range(n_warm, n)
    start = t0 + n_warm * interval
    latencies = sorted(end[k] - (t0 + k * interval) for k in measured if status[k] > 0)
    lags = sorted(sent[k] - (t0 + k * interval) for k in measured if sent[k])

    def outcome(k: int) -> str:
        if status[k] == -1:
            return "connection error"
        if not sent[k]:
            return "not sent"
        return str(status[k]) if status[k] else "no answer"

    codes = collections.Counter(outcome(k) for k in measured)
    answered = codes.get("200", 0)
    last = max((end[k] for k in measured if status[k] == 200), default=start)
    return {
        "rate": rate,
        "duration_s": duration,
        "due": len(measured),
        "sent": sum(1 for k in measured if sent[k]),
        "answered": answered,
        "errors": len(measured) - answered,
        "status": {k: v for k, v in sorted(codes.items()) if k != "200"},
        "unanswered_after_drain": unanswered,
        "achieved_per_s": answered / max(last - start, 1e-9),
        "p50_ms": _percentile(latencies, 50) * 1e3,
        "p95_ms": _percentile(latencies, 95) * 1e3,
        "p99_ms": _percentile(latencies, 99) * 1e3,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1e3,
        "send_lag_p50_ms": _percentile(lags, 50) * 1e3,
        "send_lag_p99_ms": _percentile(lags, 99) * 1e3,
        "connections_opened": pool.opened,
        "connections_peak": pool.peak,
        "generator_cpu_pct": 100 * cpu / wall,
        "generator_cpu_s": cpu,
        "schedule_late_s": schedule_end - (t0 + (n - 1) * interval),
        "abandoned": abandoned,
        "sent_with_warmup": sum(1 for k in range(n) if sent[k]),
    }


async def _closed_loop(port, request, warmup, repeats) -> list[float]:
    """Seconds per request, one at a time on one connection, after `warmup` requests."""
    pool = _Pool(port, 1)
    times = []
    for k in range(warmup + repeats):
        conn = await pool.acquire()
        clock = time.perf_counter()
        code, body = await conn.request(request, keep_body=True)
        seconds = time.perf_counter() - clock
        pool.release(conn, True)
        if code != 200:
            raise RuntimeError(f"closed loop: HTTP {code}: {body[:300]!r}")
        if k >= warmup:
            times.append(seconds)
    pool.close()
    return times


async def _probe(port, request) -> tuple[int, bytes]:
    pool = _Pool(port, 1)
    conn = await pool.acquire()
    try:
        return await asyncio.wait_for(conn.request(request, keep_body=True), 60)
    finally:
        pool.discard(conn)


def _http(method: str, path: str, body: bytes = b"", kind: str = "application/json") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
    if method == "POST":
        head += f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _json_value(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return float(value)  # Decimal


class Requests:
    """Encoded requests, built in the generator's process (once per kind)."""

    def __init__(self, snapshot: Path, manifest: dict) -> None:
        self.snapshot, self.manifest = snapshot, manifest
        self.cache: dict[str, list[bytes]] = {}

    def rows(self, model: str) -> tuple[list[dict], list[str]]:
        import pyarrow as pa

        spec = self.manifest["models"][model]
        columns = [spec["entity_id"], *spec["features"]]
        with pa.memory_map(str(self.snapshot / f"{model}.arrow")) as source:
            table = pa.ipc.open_file(source).read_all().select(columns)
        rows = [{k: _json_value(v) for k, v in r.items()} for r in table.to_pylist()]
        ids = [str(r[spec["entity_id"]]) for r in rows]
        return rows, ids

    def get(self, kind: str) -> list[bytes]:
        if kind in self.cache:
            return self.cache[kind]
        import random

        dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
        if kind == "healthz":
            out = [_http("GET", "/healthz")]
        else:
            model = kind.split(":")[1]
            rows, ids = self.rows(model)
            order = list(range(len(rows)))
            random.Random(SEED).shuffle(order)
            batch = batch_positions(len(rows))
            path = f"/v1/models/{model}/score"
            if kind.startswith("score:"):
                out = [_http("POST", path, dumps({"rows": [rows[k]]}).encode()) for k in order]
            elif kind.startswith("by-id:"):
                body = [dumps({"ids": [ids[k]]}).encode() for k in order]
                out = [_http("POST", path + "-by-id", b) for b in body]
            elif kind.startswith("score-batch:"):
                out = [_http("POST", path, dumps({"rows": [rows[k] for k in batch]}).encode())]
            elif kind.startswith("arrow-batch"):  # arrow-batch[-0]: 3 reasons [none]
                import pyarrow as pa

                table = pa.Table.from_pylist([rows[k] for k in batch])
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)
                query = "?reasons=0" if kind.startswith("arrow-batch-0:") else ""
                arrow = "application/vnd.apache.arrow.stream"
                body = sink.getvalue().to_pybytes()
                out = [_http("POST", f"{path}-arrow{query}", body, arrow)]
            elif kind.startswith("by-id-batch:"):
                body = dumps({"ids": [ids[k] for k in batch]}).encode()
                out = [_http("POST", path + "-by-id", body)]
            else:
                raise ValueError(kind)
        self.cache[kind] = out
        return out


def batch_positions(n: int) -> list[int]:
    """The rows of the 1,000-row batches (the same in every measurement)."""
    import random

    return sorted(random.Random(SEED + 1).sample(range(n), min(BATCH_ROWS, n)))


def _generator(conn, snapshot: Path, manifest: dict, loop_kind: str) -> None:
    """The generator process: commands from the bench's process, answers back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench's process stops it
    if loop_kind == "uvloop":
        import uvloop

        run = uvloop.run
    else:
        run = asyncio.run
    requests = Requests(snapshot, manifest)
    while True:
        command, args = conn.recv()
        if command == "stop":
            return
        try:
            if command == "prepare":
                answer = {kind: len(requests.get(kind)) for kind in args[0]}
            elif command == "open":
                port, kind, rate, warmup, duration, drain, limit, give_up = args
                reqs = requests.get(kind)
                answer = run(_open_loop(port, reqs, rate, warmup, duration, drain, limit, give_up))
                answer["request_bytes"] = len(reqs[0])
            elif command == "closed":
                port, kind, warmup, repeats = args
                answer = run(_closed_loop(port, requests.get(kind)[0], warmup, repeats))
            elif command == "probe":
                port, kind = args
                answer = run(_probe(port, requests.get(kind)[0]))
            else:
                raise ValueError(command)
            conn.send(("ok", answer))
        except Exception as exc:  # reported by the bench's process
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Generator:
    def __init__(self, snapshot: Path, manifest: dict, loop_kind: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_generator, args=(child, snapshot, manifest, loop_kind), daemon=True
        )
        self.process.start()

    def call(self, command: str, *args):
        self.conn.send((command, args))
        kind, answer = self.conn.recv()
        if kind == "error":
            raise RuntimeError(f"generator: {answer}")
        return answer

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(("stop", ()))
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


# ---- the raw floor server (its own process) -----------------------------------------------
_OK = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n"
    b'{"status":"ok"}'
)


class _Minimal(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport, self.buffer = transport, bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17 :].split(b"\r\n")[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.transport.write(_OK)


def _minimal_server(port: int, loop_kind: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Minimal, "127.0.0.1", port)
        await server.serve_forever()

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())


# ---- the scorehouse server ----------------------------------------------------------------
@contextlib.contextmanager
def _uninterrupted():
    """Cleanup that a second Ctrl-C (or SIGTERM) does not cut short."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def cpu_by_pid(pids) -> dict[int, float]:
    """CPU seconds (user + system) of each of these processes."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return out


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the machine has been busy (all processes) and stolen by its host."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """`scorehouse serve` in its own process group (uvicorn's workers included), stopped
    by that id."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.workers = workers
        self.port = free_port()
        # named by port: two benches at once do not share (nor delete) each other's files
        self.spool = ROOT / f"spool-w{workers}-{self.port}"
        self.log = ROOT / f"server-w{workers}-{self.port}.log"
        shutil.rmtree(self.spool, ignore_errors=True)
        command = [
            str(Path(sys.executable).with_name("scorehouse")),
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--spool",
            str(self.spool),
        ]
        self.command = " ".join(command)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.timeout = timeout

    def wait_ready(self) -> dict:
        """/readyz's answer once every worker is up (SystemExit, the server stopped, when it
        exits first or is not ready within the timeout)."""
        timeout = self.timeout
        deadline = time.monotonic() + timeout
        ready = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])
                raise SystemExit(
                    f"the server exited with status {self.process.returncode} before it was "
                    f"ready ({self.command}); the end of {self.log}:\n{tail}"
                )
            if ready is None:
                with contextlib.suppress(OSError):
                    status, body = get(self.port, "/readyz")
                    if status == 200:
                        ready = json.loads(body)
            # every worker loaded (each logs its startup; /readyz answers from the first)
            started = self.log.read_text(errors="replace").count("Application startup complete")
            if ready is not None and started >= self.workers:
                return ready
            time.sleep(0.25)
        self.stop()
        raise SystemExit(f"the server was not ready within {timeout:.0f}s; see {self.log}")

    def pids(self) -> list[int]:
        """The processes of the server's group."""
        out = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[2]) == self.process.pid:  # pgrp
                        out.append(int(entry.name))
        return out

    def cpu_by_pid(self) -> dict[int, float]:
        """CPU seconds of each process of the server."""
        return cpu_by_pid(self.pids())

    def workers_of(self, pids) -> list[int]:
        """uvicorn's worker processes among `pids` (not its supervisor, nor the resource
        tracker of multiprocessing)."""
        out = []
        for pid in pids:
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if pid != self.process.pid and b"resource_tracker" not in command:
                    out.append(pid)
        return out

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid().values())

    def settle(self, idle: float = 0.05, timeout: float = 120) -> None:
        """Wait for the server to go idle (under `idle` of a core over 0.5 s): what an
        overloaded run left queued is not the next run's."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cpu = self.cpu_seconds()
            time.sleep(0.5)
            if self.cpu_seconds() - cpu < idle * 0.5:
                return
        print(f"  (the server did not go idle within {timeout:.0f}s)", flush=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for pid in self.pids():  # a worker left behind by its parent
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def problems(self) -> list[str]:
        """Error lines of the server's log."""
        lines = self.log.read_text(errors="replace").splitlines()
        words = ("ERROR", "Traceback", "CRITICAL", "Exception", "WARNING")
        return [line for line in lines if any(w in line for w in words)]


# ---- in memory ----------------------------------------------------------------------------
def median_seconds(fn, warmup: int, repeats: int) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        clock = time.perf_counter()
        fn()
        times.append(time.perf_counter() - clock)
    return statistics.median(times), times


def in_memory(snapshot: Path, manifest: dict, warmup: int, repeats: int) -> dict:
    """The references on the 1,000 rows of the batch requests, in this process."""
    import numpy as np
    import pyarrow as pa

    from python_scoring import artifacts
    from python_scoring.features.pipeline import model_input
    from python_scoring.project import Project
    from python_scoring.scoring.task import scored_table, scoring_model
    from python_scoring.warehouse import to_pandas

    spec = manifest["models"][MODEL]
    project = Project(REPO)
    artifact, pipeline = artifacts.load(
        project.artifacts_dir, MODEL, spec["version"], expected=spec["digest"]
    )
    with pa.memory_map(str(snapshot / f"{MODEL}.arrow")) as source:
        inputs = pa.ipc.open_file(source).read_all()
    positions = pa.array(batch_positions(inputs.num_rows))
    frame = to_pandas(inputs.take(positions))  # (to_pandas consumes its table: a copy each)
    features = np.ascontiguousarray(
        np.asarray(model_input(pipeline, frame[spec["features"]]), dtype="float64")
    )
    booster = pipeline.named_steps["model"].booster_
    out = {}
    for threads in (1, 2):
        seconds, runs = median_seconds(
            lambda t=threads: booster.predict(features, num_threads=t), warmup, repeats
        )
        out[f"booster_{threads}"] = {"seconds": seconds, "runs": runs}
    # the scoring model as the service builds it (serving.state): its row path (small
    # batches) verified on the month's first 1,000 rows
    sample = to_pandas(inputs.take(pa.array(range(min(1000, inputs.num_rows)))))
    scoring = scoring_model(
        artifact, pipeline, spec["entity_id"], spec["n_reasons"], True, sample=sample
    )
    copies = iter([inputs.take(positions) for _ in range(warmup + repeats)])
    seconds, runs = median_seconds(
        lambda: scored_table(to_pandas(next(copies)), scoring, {}), warmup, repeats
    )
    out["scored_table"] = {
        "seconds": seconds,
        "runs": runs,
        "predictor": scoring.predictor.method,
        "row_path": scoring.rows is not None,
    }
    # one row a call, each of the 1,000 rows once (after 50 calls): what a one-row
    # request costs in scoring alone
    order = positions.to_pylist()
    singles = [inputs.take(pa.array([k])) for k in [*order[:50], *order]]
    times = []
    for k, table in enumerate(singles):
        clock = time.perf_counter()
        scored_table(to_pandas(table), scoring, {})
        if k >= 50:
            times.append(time.perf_counter() - clock)
    times.sort()
    out["scored_table_one_row"] = {
        "p50_ms": _percentile(times, 50) * 1e3,
        "p99_ms": _percentile(times, 99) * 1e3,
    }
    return out


# ---- the run ------------------------------------------------------------------------------
HEADER = (
    f"{'':30} {'rate/s':>6} {'due':>7} {'sent':>7} {'answered':>8} {'errors':>7} "
    f"{'achieved/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lag99':>7} "
    f"{'conns':>5} {'gen cpu':>7} {'srv ms/req':>10} {'srv cores':>9} {'others':>6}"
)


def ms(value: float) -> str:
    if value != value:  # nothing answered
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.1f}" if value < 10_000 else f"{value:,.0f}"


def row(name: str, r: dict) -> str:
    srv = f"{r['server_cpu_ms_per_request']:.2f}" if "server_cpu_ms_per_request" in r else "-"
    line = (
        f"{name:30} {r['rate']:>6,} {r['due']:>7,} {r['sent']:>7,} {r['answered']:>8,} "
        f"{r['errors']:>7,} {r['achieved_per_s']:>10,.0f} {ms(r['p50_ms']):>8} "
        f"{ms(r['p95_ms']):>8} {ms(r['p99_ms']):>8} {ms(r['max_ms']):>8} "
        f"{ms(r['send_lag_p99_ms']):>7} {r['connections_peak']:>5} "
        f"{r['generator_cpu_pct']:>6.0f}% {srv:>10} {r['server_cores']:>9.2f} "
        f"{r['other_cores']:>6.2f}"
    )
    if "worker_cpu_split" in r:
        line += "  workers " + "/".join(f"{v:.0%}" for v in r["worker_cpu_split"])
    if r["status"]:
        line += "  " + ", ".join(f"{k}: {v:,}" for k, v in r["status"].items())
    return line


def passes(r: dict, p99_ms: float) -> bool:
    return r["errors"] == 0 and r["p99_ms"] < p99_ms


class Bench:
    def __init__(self, args, gen: Generator) -> None:
        self.args, self.gen = args, gen

    def open_loop(
        self,
        port: int,
        kind: str,
        rate: int,
        duration: float,
        server: Server | None = None,
        give_up: int = 0,
        pids: tuple[int, ...] = (),
    ) -> dict:
        """One open-loop run against `server` (or the processes `pids`, the raw floor)."""
        a = self.args
        if server:
            server.settle()
        before = server.cpu_by_pid() if server else cpu_by_pid(pids)
        busy, steal = machine_cpu()
        own, clock = time.process_time(), time.perf_counter()
        r = self.gen.call(
            "open", port, kind, rate, a.warmup, duration, a.drain, a.max_connections, give_up
        )
        wall = time.perf_counter() - clock
        own = time.process_time() - own
        busy, steal = (now - then for now, then in zip(machine_cpu(), (busy, steal), strict=True))
        during = server.cpu_by_pid() if server else cpu_by_pid(pids)
        used = {pid: cpu - before.get(pid, 0.0) for pid, cpu in during.items()}
        # cores: the server's, and what other processes of the machine used meanwhile
        r["server_cores"] = sum(used.values()) / wall
        r["other_cores"] = max(0.0, busy - sum(used.values()) - r["generator_cpu_s"] - own) / wall
        r["steal_cores"] = steal / wall
        if server and server.workers > 1:  # how the work fell on the workers
            workers = sorted((used[p] for p in server.workers_of(used)), reverse=True)
            r["worker_cpu_split"] = [v / max(sum(workers), 1e-9) for v in workers]
        if server:  # the CPU of every request sent, those answered after the run included
            server.settle()
            cpu = server.cpu_seconds() - sum(before.values())
            r["server_cpu_ms_per_request"] = cpu / max(r["sent_with_warmup"], 1) * 1e3
        return r

    def server_run(self, workers: int) -> dict:
        a = self.args
        print(f"\n== server: scorehouse serve --workers {workers} ==", flush=True)
        clock = time.perf_counter()
        server = Server(workers, a.start_timeout)
        results: dict = {"workers": workers, "command": server.command}
        try:
            ready = server.wait_ready()
            model = ready["models"][MODEL]
            print(
                f"ready in {time.perf_counter() - clock:.1f}s on port {server.port}: snapshot "
                f"{ready['snapshot']}; {MODEL} {model['version']} ({model['rows']:,} rows, "
                f"predictor {model['predictor']}, row path {model['row_path']}); "
                f"models {', '.join(ready['models'])}",
                flush=True,
            )
            results["readyz"] = ready
            results["checks"] = self.checks(server.port)
            print(HEADER)
            port = server.port
            for rate in a.rates:
                r = self.open_loop(port, "healthz", rate, a.floor_duration, server)
                results.setdefault("floor_healthz", []).append(r)
                print(row("floor: GET /healthz", r), flush=True)
            for rate in a.rates:
                r = self.open_loop(port, f"score:{MODEL}", rate, a.duration, server)
                results.setdefault("score", []).append(r)
                print(row("POST /score, 1 row", r), flush=True)
            r = self.open_loop(port, f"by-id:{MODEL}", a.by_id_rate, a.duration, server)
            results["by_id"] = r
            print(row("POST /score-by-id, 1 id", r), flush=True)
            results["search"] = self.search(server)
            results["batch"] = {}
            for kind, label in (
                (f"score-batch:{MODEL}", "score"),
                (f"by-id-batch:{MODEL}", "by_id"),
                (f"arrow-batch:{MODEL}", "arrow"),
                (f"arrow-batch-0:{MODEL}", "arrow_no_reasons"),
            ):
                times = self.gen.call("closed", port, kind, a.batch_warmup, a.repeats)
                results["batch"][label] = {"seconds": statistics.median(times), "runs": times}
        finally:
            with _uninterrupted():
                server.stop()
                shutil.rmtree(server.spool, ignore_errors=True)
        results["log_problems"] = server.problems()
        if results["log_problems"]:
            print(f"server log {server.log}: {len(results['log_problems'])} problem lines:")
            for line in results["log_problems"][:10]:
                print("   ", line[:200])
        return results

    def checks(self, port: int) -> dict:
        """The answers are what they should be before anything is timed."""
        out = {}
        kinds = ("score", "by-id", "score-batch", "arrow-batch", "arrow-batch-0")
        for kind in (f"{k}:{MODEL}" for k in kinds):
            status, body = self.gen.call("probe", port, kind)
            if status != 200:
                raise SystemExit(f"{kind}: HTTP {status}: {body[:500]!r}")
            answer = json.loads(body)
            reasons = collections.Counter(len(r["reasons"]) for r in answer["rows"])
            out[kind] = {"rows": len(answer["rows"]), "reasons_per_row": dict(reasons)}
        batch = out[f"score-batch:{MODEL}"]
        for kind, reasons in (
            ("arrow-batch", batch["reasons_per_row"]),
            ("arrow-batch-0", {0: 1000}),
        ):
            got = out[f"{kind}:{MODEL}"]["reasons_per_row"]
            if got != reasons:
                raise SystemExit(f"{kind}: reasons per row {got}, expected {reasons}")
        print(
            f"checks: one-row answers 200; the 1,000-row answer has {batch['rows']:,} rows, "
            "reasons per row: "
            + ", ".join(f"{k}: {v:,}" for k, v in sorted(batch["reasons_per_row"].items())),
            flush=True,
        )
        return out

    def search(self, server: Server) -> dict:
        """The highest rate (from search_from up by search_step) whose p99 stays under
        p99_ms with no error; when search_from fails, halving down to a rate that passes,
        then bisecting to within a tenth of search_step."""
        a = self.args
        steps = []

        def step(rate: int) -> bool:
            r = self.open_loop(
                server.port, f"score:{MODEL}", rate, a.search_duration, server, max(200, rate)
            )
            steps.append(r)
            ok = passes(r, a.p99_ms)
            print(row(f"search: 1 row, {'pass' if ok else 'FAIL'}", r), flush=True)
            return ok

        best = failed = None
        rate = a.search_from
        while rate <= a.search_max:
            if not step(rate):
                failed = rate
                break
            best = rate
            rate += a.search_step
        if best is None:
            rate = a.search_from // 2
            while rate >= 10 and best is None:
                if step(rate):
                    best = rate
                else:
                    failed, rate = rate, rate // 2
            while best and failed and failed - best > max(10, a.search_step // 10):
                middle = (best + failed) // 2
                if step(middle):
                    best = middle
                else:
                    failed = middle
        return {"best_rate": best, "first_failed": failed, "steps": steps}


def machine() -> dict:
    facts = {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu": "",
        "python": platform.python_version(),
        "versions": {},
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            facts["versions"][name] = importlib.metadata.version(name)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        facts["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    return facts


def other_benches() -> list[int]:
    """Processes of another serve_load.py run (not this one, nor what started it)."""
    mine = {os.getpid()}
    pid = os.getpid()
    with contextlib.suppress(OSError, ValueError, IndexError):
        while pid > 1:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            mine.add(pid)
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in mine:
            with contextlib.suppress(OSError):
                if b"serve_load.py" in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
    return out


def wait_quiet(limit: float, wait: float) -> float:
    """The 1-minute load average once under `limit` and no other run of this bench (or
    after `wait` s)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        load, others = os.getloadavg()[0], other_benches()
        if load <= limit and not others:
            break
        why = f"another serve_load.py runs (pid {others[0]})" if others else "the machine is busy"
        print(f"load average {load:.2f} (limit {limit}), {why}: waiting 60 s", flush=True)
        time.sleep(60)
    return os.getloadavg()[0]


def load_text() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def rates_of(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1", help="server processes; a list runs each (1,2)")
    p.add_argument("--rates", type=rates_of, default=[100, 500, 1000], help="requests/s")
    p.add_argument("--duration", type=float, default=60, help="s measured a rate")
    p.add_argument("--warmup", type=float, default=5, help="s at the rate first, excluded")
    p.add_argument("--floor-duration", type=float, default=20, help="s a floor rate")
    p.add_argument(
        "--floor-extra",
        type=rates_of,
        default=[2000, 4000],
        help="rates of the raw floor beyond --rates (the generator's headroom)",
    )
    p.add_argument("--by-id-rate", type=int, default=500)
    p.add_argument("--search-from", type=int, default=500)
    p.add_argument("--search-step", type=int, default=250)
    p.add_argument("--search-max", type=int, default=10_000)
    p.add_argument("--search-duration", type=float, default=20)
    p.add_argument("--p99-ms", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=9, help="1,000-row batches timed (median)")
    p.add_argument("--batch-warmup", type=int, default=3, help="1,000-row batches first")
    p.add_argument("--drain", type=float, default=10, help="s to wait for answers at the end")
    p.add_argument("--max-connections", type=int, default=1000)
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--start-timeout", type=float, default=600)
    p.add_argument("--quiet-load", type=float, default=0.7)
    p.add_argument("--quiet-wait", type=float, default=1200)
    p.add_argument("--skip-raw-floor", action="store_true")
    return p.parse_args()


def _interrupted(signum, frame):
    print(f"\n{signal.Signals(signum).name} received: stopping", flush=True)
    raise KeyboardInterrupt


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `scorehouse serve` runs
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.loop = "asyncio"
    ROOT.mkdir(parents=True, exist_ok=True)
    snapshot = REPO / "snapshots" / "telco"
    snapshot = snapshot / (snapshot / "CURRENT").read_text().strip()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    workers = [int(w) for w in args.workers.split(",")]

    load_start = wait_quiet(args.quiet_load, args.quiet_wait)
    facts = machine()
    started = dt.datetime.now(dt.UTC)
    print(
        f"serve load bench {started:%Y-%m-%d %H:%M}Z, git {facts.get('git', '?')}: "
        f"{facts['cores']} cores ({facts['cores_usable']} usable, {facts['cpu']}); "
        f"load average (1/5/15 min) before: {load_text()}"
    )
    print(
        "python "
        + facts["python"]
        + ", "
        + ", ".join(f"{k} {v}" for k, v in facts["versions"].items())
    )
    spec = manifest["models"][MODEL]
    print(
        f"snapshot {snapshot.name}: {MODEL} {spec['version']}, {spec['rows']:,} rows of "
        f"{spec['month']}, {len(spec['features'])} features, {spec['n_reasons']} reasons; "
        f"server workers {args.workers}; generator: own process, {args.loop}, raw HTTP/1.1 "
        f"keep-alive, up to {args.max_connections} connections"
    )
    print(
        f"open loop: latency from each request's due time to its whole answer; warm-up "
        f"{args.warmup:g}s excluded, then {args.duration:g}s a rate ({args.floor_duration:g}s a "
        f"floor rate, {args.search_duration:g}s a search step); lag99 = p99 of send time - due "
        "time (the generator's own lateness); gen cpu = generator process CPU / wall; srv ms/req "
        "= server CPU (all its processes) per request sent; srv cores = its CPU / wall; others "
        "= cores the machine's other processes used meanwhile (disturbance). Percentiles: the "
        "requests answered (any status); errors: not 200, connection errors, no answer within "
        f"--drain {args.drain:g}s after the last was due, or not sent (a search step gives up "
        "once 1 s of requests is in flight)"
    )
    results: dict = {"started": started.isoformat(), "machine": facts, "args": vars(args)}
    results["load_before"] = os.getloadavg()
    results["load_waited_to"] = load_start

    gen = Generator(snapshot, manifest, args.loop)
    minimal = None

    try:
        kinds = ["healthz", f"score:{MODEL}", f"by-id:{MODEL}", f"score-batch:{MODEL}"]
        kinds.append(f"by-id-batch:{MODEL}")
        sizes = gen.call("prepare", kinds)
        print(f"requests encoded: {sizes[f'score:{MODEL}']:,} one-row bodies (a row each)")
        if not args.skip_raw_floor:
            port = free_port()
            minimal = mp.get_context("spawn").Process(
                target=_minimal_server, args=(port, args.loop), daemon=True
            )
            minimal.start()
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the minimal HTTP server did not start")
                time.sleep(0.1)
            print("\n== floor: the generator against a minimal asyncio HTTP server ==")
            print(HEADER)
            bench = Bench(args, gen)
            for rate in sorted({*args.rates, args.search_from, *args.floor_extra}):
                r = bench.open_loop(port, "healthz", rate, args.floor_duration, pids=(minimal.pid,))
                results.setdefault("floor_raw", []).append(r)
                print(row("floor: raw asyncio server", r), flush=True)
            minimal.kill()
            minimal.join()
            minimal = None
        bench = Bench(args, gen)
        results["servers"] = [bench.server_run(w) for w in workers]
        gen.stop()
        print("\n== in memory, this process (OMP_NUM_THREADS=1 as the server) ==", flush=True)
        results["in_memory"] = in_memory(snapshot, manifest, args.batch_warmup, args.repeats)
    finally:
        with _uninterrupted():
            gen.stop()
            if minimal is not None:
                minimal.kill()
    results["load_after"] = os.getloadavg()
    summary(args, results)
    out = ROOT / f"serve_load-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nfigures: {out.relative_to(REPO)}")


def summary(args, results: dict) -> None:
    mem = results["in_memory"]
    reference = BATCH_ROWS / mem["booster_1"]["seconds"]
    print(
        f"\n== summary (load average before {results['load_before'][0]:.2f}, after "
        f"{results['load_after'][0]:.2f}) =="
    )
    print(HEADER)
    for r in results.get("floor_raw", []):
        print(row("floor: raw asyncio server", r))
    for s in results["servers"]:
        w = f"w={s['workers']}"
        for r in s["floor_healthz"]:
            print(row(f"{w} floor: GET /healthz", r))
        for r in s["score"]:
            print(row(f"{w} POST /score, 1 row", r))
        print(row(f"{w} POST /score-by-id, 1 id", s["by_id"]))
    runs = [*results.get("floor_raw", [])]
    for s in results["servers"]:
        runs += [*s["floor_healthz"], *s["score"], s["by_id"], *s["search"]["steps"]]
    disturbed = [r for r in runs if r["other_cores"] > 0.25]
    if disturbed:
        print(
            f"NOTE: other processes of the machine used over 0.25 of a core during "
            f"{len(disturbed)} of {len(runs)} runs (up to "
            f"{max(r['other_cores'] for r in disturbed):.2f}): those figures are disturbed"
        )
    print(
        f"\nhighest rate with p99 < {args.p99_ms:g} ms and no error ({args.search_duration:g}s "
        f"a step, from {args.search_from}/s by {args.search_step}/s):"
    )
    for s in results["servers"]:
        best = s["search"]["best_rate"]
        steps = ", ".join(
            f"{r['rate']}/s "
            + (
                "gave up: 1 s of requests in flight"
                if r["abandoned"]
                else f"p99 {ms(r['p99_ms'])} ms"
                + (f", {r['errors']:,} errors" if r["errors"] else "")
            )
            for r in s["search"]["steps"]
        )
        print(
            f"  workers={s['workers']}: {best if best else 'none'}"
            f"{'/s' if best else ''}   ({steps})"
        )
    print(
        f"\n1,000-row batches of {MODEL}, one at a time, median of {args.repeats} after "
        f"{args.batch_warmup} warm-ups (the same rows; the runs' range in brackets):"
    )

    def line(label: str, timing: dict) -> None:
        rate = BATCH_ROWS / timing["seconds"]
        fast, slow = (x * 1e3 for x in (min(timing["runs"]), max(timing["runs"])))
        print(
            f"  {label:58} {rate:>10,.0f} rows/s   {rate / reference:.2f}x   "
            f"({timing['seconds'] * 1e3:.1f} ms a batch [{fast:.1f} .. {slow:.1f}])"
        )

    line("Booster.predict in memory, 1 thread (reference)", mem["booster_1"])
    line("Booster.predict in memory, 2 threads", mem["booster_2"])
    predictor = mem["scored_table"]["predictor"]
    line(f"scored_table in memory (transform, {predictor}, 3 reasons)", mem["scored_table"])
    one = mem["scored_table_one_row"]
    print(
        f"  (scored_table in memory, one row a call (row path {mem['scored_table']['row_path']}), "
        f"each of the 1,000 rows: p50 {one['p50_ms']:.2f} ms, p99 {one['p99_ms']:.2f} ms)"
    )
    for s in results["servers"]:
        line(f"workers={s['workers']} POST /score, 1,000 rows", s["batch"]["score"])
        line(f"workers={s['workers']} POST /score-by-id, 1,000 ids", s["batch"]["by_id"])
        line(f"workers={s['workers']} POST /score-arrow, 1,000 rows", s["batch"]["arrow"])
        line(
            f"workers={s['workers']} POST /score-arrow?reasons=0, 1,000 rows",
            s["batch"]["arrow_no_reasons"],
        )
    print(
        "  (Booster.predict gives scores only: POST /score-arrow?reasons=0 is the like-for-like "
        "call; with reasons, LightGBM's own pred_leaf alone costs about one Booster.predict)"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        raise SystemExit("interrupted (the servers started here are stopped)") from None
