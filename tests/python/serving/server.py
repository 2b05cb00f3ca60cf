"""`scorehouse serve` as a real process on a real socket, for the service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLI = Path(sys.executable).parent / "scorehouse"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(built, *args: str, env: dict[str, str] | None = None, ready_s: float = 180) -> Server:
    """`scorehouse serve ARGS` on a free port of 127.0.0.1, once /readyz answers (a server
    that exits or never gets ready fails the test with its output)."""
    port = free_port()
    log = built.root / f"serve-{port}.log"
    handle = log.open("w")
    process = subprocess.Popen(
        [str(CLI), *built.cli_args, "serve", "--port", str(port), *args],
        env={**built.env, **(env or {})},
        cwd=built.project_dir,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"scorehouse serve exited {process.returncode}:\n{server.output()}"
            )
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop(signal.SIGKILL)
    raise AssertionError(f"scorehouse serve not ready in {ready_s}s:\n{server.output()}")


def kill(server: Server) -> None:
    """SIGKILL, as an operator's kill -9 or the OOM killer would."""
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
