"""One long-lived child process running a warehouse's dbt and scorehouse commands in-process,
one after another (Built.hosted).

On Spark each command in its own process starts a JVM and plans its first queries with
cold (interpreted, not yet JIT-compiled) Catalyst code: ~20 s a command before any work,
and the first analysis of a query ~3x slower than the second. Hosted, the commands share
one JVM, as `scorehouse run` does for the monthly cycle. The host must end before another
process opens the warehouse: Derby's metastore admits one JVM at a time.

Protocol: one JSON request per line on stdin ({"tool": "dbt" | "scorehouse" | "python",
"args": [...], "code": ..., "out": path, "err": path}); the command's fd 1 and 2 go to the
two files; its exit code comes back as one line on the file descriptor given as argv[1].
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path


def _run(request: dict) -> int:
    tool, args = request["tool"], request["args"]
    if tool == "dbt":
        from dbt.adapters.factory import reset_adapters
        from dbt.cli.main import dbtRunner

        try:
            result = dbtRunner().invoke(args)
        finally:
            reset_adapters()  # as python_scoring.dbt_runner: the next command connects anew
        # the dbt CLI's exit codes: 1 a node failed, 2 dbt itself failed
        return 0 if result.success else 2 if result.exception is not None else 1
    if tool == "scorehouse":
        from python_scoring.cli import main

        return main(args)
    if tool == "python":
        sys.argv = ["-c", *args]
        exec(compile(request["code"], "<hosted script>", "exec"), {"__name__": "__main__"})
        return 0
    raise ValueError(f"unknown tool {tool!r}")


def _redirected(request: dict) -> int:
    """Run the request with fd 1 and 2 (Python's, the JVM's and dbt's output) in its files."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(request["out"], "wb") as out, open(request["err"], "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            return _run(request)
        except BaseException:  # SystemExit too: the command failed, the host lives on
            traceback.print_exc()
            return 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)


def serve(result_fd: int) -> None:
    with os.fdopen(result_fd, "w") as results:
        for line in sys.stdin:
            rc = _redirected(json.loads(line))
            results.write(f"{rc}\n")
            results.flush()


class CommandHost:
    """The parent's side: start the host with a warehouse's environment, send commands,
    read back exit code, stdout and stderr (as subprocess.run(capture_output=True) would)."""

    def __init__(self, env: dict[str, str], cwd: Path, logs: Path) -> None:
        self.logs = logs
        self.count = 0
        logs.mkdir(parents=True, exist_ok=True)
        read, write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(write)],
            stdin=subprocess.PIPE,
            env=env,
            cwd=cwd,
            pass_fds=(write,),
            text=True,
        )
        os.close(write)
        self.results = os.fdopen(read)

    def run(self, tool: str, args: list[str], code: str = "") -> subprocess.CompletedProcess:
        self.count += 1
        out, err = (self.logs / f"{self.count:02d}-{tool}.{kind}" for kind in ("out", "err"))
        request = {"tool": tool, "args": args, "code": code, "out": str(out), "err": str(err)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.results.readline()
        stdout = out.read_text(errors="replace") if out.exists() else ""
        stderr = err.read_text(errors="replace") if err.exists() else ""
        if not line:
            raise AssertionError(f"the command host died running {tool} {args}:\n{stderr[-4000:]}")
        return subprocess.CompletedProcess([tool, *args], int(line), stdout, stderr)

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.results.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
