"""dbt called in this process (dbtRunner), against the project, profile and target path
python_scoring itself uses, with the domain passed as dbt's var `domain`.

One process for the whole monthly cycle: no second interpreter start per step, and on
Spark one JVM (Derby's metastore admits one) shared by dbt-spark's session and ours."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import yaml

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.warehouse import prepare_process, release_after_dbt

log = logging.getLogger(__name__)


def dbt_vars(domain: str | None = None, **values: object) -> str:
    """dbt's --vars argument: the domain and any other var that is not None."""
    chosen = {"domain": domain, **values}
    return yaml.safe_dump(
        {k: v for k, v in chosen.items() if v is not None}, default_flow_style=True
    )


def run_dbt(
    project: Project, command: str, *args: str, dbt_var: str | None = None, quiet: bool = True
) -> None:
    """Run one dbt command (`build`, `parse`, ...) in this process; a failure is one line
    naming the failing nodes. dbt prints its own progress unless `quiet`."""
    from dbt.cli.main import dbtRunner

    prepare_process(project)  # dbt may start the engine (Spark) in this process
    invocation = [
        command,
        *(["--quiet"] if quiet else []),
        "--log-path",
        str(project.manifest_path.parent.parent / "logs"),
        *args,
        "--project-dir",
        str(project.project_dir),
        "--target-path",
        str(project.manifest_path.parent),
        # the profile python_scoring resolved (dbt alone would not look in the project)
        "--profiles-dir",
        str(project.profiles_file().parent),
        *(["--target", project.target] if project.target else []),
        *(["--vars", dbt_var] if dbt_var else []),
    ]
    clock = time.perf_counter()
    try:
        result = dbtRunner().invoke(invocation)
    finally:
        release_after_dbt(project)
        project.forget_manifest()  # dbt rewrote it
    _record_tests(project, result)
    if isinstance(result.exception, KeyboardInterrupt):
        raise result.exception
    if result.exception is not None:
        first = (str(result.exception).strip().splitlines() or [""])[0]
        raise ScorehouseError(f"dbt {command} failed: {first}")
    if not result.success:
        failed = [
            _failure(r)
            for r in getattr(result.result, "results", [])
            if str(r.status) in {"error", "fail"}
        ]
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise ScorehouseError(
            f"dbt {command} failed: " + ("; ".join(failed[:5]) or "see dbt's log above") + more
        )
    log.info("dbt %s done in %.1fs", " ".join([command, *args]), time.perf_counter() - clock)


# the latest result of every test a dbt invocation of scorehouse ran, beside the manifest:
# dbt's run_results.json holds only the last invocation (the marts' tests after a cycle)
TESTS_FILE = "scorehouse_test_results.json"


def recorded_tests(project: Project) -> dict[str, dict[str, Any]]:
    """unique_id -> {name, status, failures, message, model, at} of the tests recorded."""
    path = project.manifest_path.parent / TESTS_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON: the recorded test results start anew", path)
        return {}


def _record_tests(project: Project, result) -> None:
    ran = [
        r
        for r in getattr(result.result, "results", None) or []
        if getattr(r.node, "resource_type", None) == "test"
    ]
    if not ran:
        return
    recorded = recorded_tests(project)
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    for r in ran:
        recorded[r.node.unique_id] = {
            "name": r.node.name,
            "status": str(r.status),
            "failures": r.failures,
            "message": (str(r.message or "").strip().splitlines() or [""])[0][:300],
            "model": (getattr(r.node, "attached_node", None) or "").split(".")[-1],
            "at": at,
        }
    path = project.manifest_path.parent / TESTS_FILE
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(recorded, indent=1, sort_keys=True))
    partial.replace(path)  # atomic: a crash leaves the previous record whole


def _failure(result) -> str:
    """One failed node in a line: its name, a test's description when it has one (says
    what is wrong), and dbt's message."""
    detail = str(result.message or result.status).strip()
    description = " ".join(getattr(result.node, "description", "").split())
    if description and result.node.resource_type == "test":
        detail = f"{description} ({detail})"
    return f"{result.node.name}: {detail}".splitlines()[0]


_PARSED = {".sql", ".yml", ".yaml", ".csv", ".py", ".md"}


def _project_files(project: Project) -> list[Path]:
    """The files dbt parses: dbt_project.yml, selectors.yml and the model, macro, seed,
    test and analysis folders' YAML and SQL."""
    config = project.dbt_project
    folders = [
        *config.get("model-paths", ["models"]),
        *config.get("macro-paths", ["macros"]),
        *config.get("seed-paths", ["seeds"]),
        *config.get("test-paths", ["tests"]),
        *config.get("analysis-paths", ["analyses"]),
    ]
    files = [project.project_dir / "dbt_project.yml", project.project_dir / "selectors.yml"]
    for folder in folders:
        root = project.project_dir / folder
        # folders too: moving or deleting a file changes its folder's time, not the file's
        files += [root, *(p for p in root.rglob("*") if p.is_dir() or p.suffix in _PARSED)]
    return [f for f in files if f.exists()]


def ensure_manifest(project: Project) -> None:
    """Parse the project (in this process) when dbt's manifest is missing or older than a
    file dbt parses, so that a new model or registry entry is seen without a manual
    `dbt parse`."""
    path = project.manifest_path
    if path.is_file():
        written = path.stat().st_mtime
        newer = [f for f in _project_files(project) if f.stat().st_mtime > written]
        if not newer:
            return
        log.info("dbt manifest older than %s: parsing the project", newer[0])
    else:
        log.info("no dbt manifest at %s: parsing the project", path)
    run_dbt(project, "parse")
