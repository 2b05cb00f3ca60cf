"""Faults an operator meets around artifacts and scoring (issue 15): a resumed score over a
changed input, a swapped or edited artifact, `clean` after a killed train, an artifacts
directory that cannot be written, more pieces than the ids can fill. Each must end
either in correct data or in one line `scorehouse: error: ...`, never in silently wrong
scores, executed code or a traceback."""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import joblib
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from python_scoring import artifacts
from python_scoring.errors import ScorehouseError
from python_scoring.scoring.task import ScoringTask

from ..conftest import query

SCOREHOUSE = Path(sys.executable).parent / "scorehouse"
SCORES = "select entity_id, score from ml.model_scores where model_name = '{}'"


def run_cli(warehouse, *args, env_extra=None):
    return subprocess.run(
        [str(SCOREHOUSE), *warehouse.cli_args, *args],
        env={**warehouse.env, **(env_extra or {})},
        capture_output=True,
        text=True,
    )


def scores(warehouse, model: str) -> dict[str, float]:
    return dict(query(warehouse, SCORES.format(model)))


def one_error_line(err: str) -> str:
    """The error line of a failed run: the last line, and no traceback before it."""
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("scorehouse: error: "), err[-3000:]
    return last


def write(warehouse, *statements: str) -> None:
    with duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        for statement in statements:
            con.execute(statement)


# ---- 1. a resumed score over an input rebuilt with the same ids ----------------------


def _numeric_features(warehouse, model: str, relation: str) -> list[str]:
    ((version,),) = query(
        warehouse, f"select model_version from ml.training_runs where model_name = '{model}'"
    )
    meta = json.loads(
        (warehouse.root / "artifacts" / model / version / "metadata.json").read_text()
    )
    numeric = set(meta["candidates"]["numeric"]) & set(meta["features"])
    types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'ml' and table_name = '{relation}'",
        )
    )
    return sorted(c for c in numeric if types.get(c) in {"DOUBLE", "INTEGER", "BIGINT"})


@pytest.mark.e2e
def test_resumed_score_over_changed_values_starts_over(warehouse):
    """Killed after 1 of 3 pieces; the input rebuilt with the same ids but other values:
    the rerun must not keep the stale piece (its scores equal a fresh run's)."""
    model, relation = "data_addon_scorecard", "data_addon_scoring_input"
    original = scores(warehouse, model)
    killed = run_cli(
        warehouse,
        "score",
        "--model",
        model,
        "--pieces",
        "3",
        env_extra={"SCOREHOUSE_KILL_AFTER_PIECES": "1"},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    features = _numeric_features(warehouse, model, relation)
    assert features
    changes = ", ".join(f"{f} = {f} * 3 + 7" for f in features)
    write(warehouse, f"update ml.{relation} set {changes}")  # same ids, same row count
    try:
        rerun = run_cli(warehouse, "score", "--model", model, "--pieces", "3")
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert "resuming" not in rerun.stderr
        assert "the scoring input changed since they were written" in rerun.stderr
        resumed = scores(warehouse, model)
        fresh_run = run_cli(warehouse, "-q", "score", "--model", model, "--pieces", "1")
        assert fresh_run.returncode == 0, fresh_run.stderr[-2000:]
        fresh = scores(warehouse, model)
        assert resumed.keys() == fresh.keys() == original.keys()
        # the change moves the scores of the staged piece (last digit 0, 3, 6, 9) ...
        staged = [e for e in fresh if int(e[-1]) % 3 == 0]
        moved = sum(abs(fresh[e] - original[e]) > 1e-9 for e in staged)
        assert moved > len(staged) / 2
        # ... and the rerun scored it from the new values, not the old ones
        assert max(abs(resumed[e] - fresh[e]) for e in fresh) < 1e-12
    finally:
        warehouse.dbt("build", "--select", relation, "--quiet")
        assert run_cli(warehouse, "-q", "score", "--model", model).returncode == 0


@pytest.mark.e2e
def test_input_changed_while_scoring_is_refused(warehouse, monkeypatch, capsys):
    """The input changes between two pieces of one run (another writer on PostgreSQL or
    Spark): the run stops before the swap, drops its staging and keeps the slice."""
    from python_scoring.warehouse._duckdb import DuckDBWarehouse

    model, relation = "data_addon_scorecard", "data_addon_scoring_input"
    feature = _numeric_features(warehouse, model, relation)[0]
    before = scores(warehouse, model)
    real = DuckDBWarehouse.write_piece

    def write_then_change(self, staging, piece, *args):
        rows = real(self, staging, piece, *args)
        if piece == 0:
            self.execute(f"update ml.{relation} set {feature} = {feature} + 1")
        return rows

    monkeypatch.setattr(DuckDBWarehouse, "write_piece", write_then_change)
    try:
        assert warehouse.scorehouse("score", "--model", model, "--pieces", "3") == 2
        line = one_error_line(capsys.readouterr().err)
        assert "changed while it was being scored" in line and f"ml.{relation}" in line
        assert scores(warehouse, model) == before
        tables = query(warehouse, "select table_name from information_schema.tables")
        assert not any(model in t for (t,) in tables), tables  # no staging, no input record
    finally:
        monkeypatch.undo()
        warehouse.dbt("build", "--select", relation, "--quiet")
        assert warehouse.scorehouse("score", "--model", model) == 0


# ---- 2. a swapped or edited artifact -------------------------------------------------


class Payload:
    """A pickle that runs code when unpickled: it creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


def _swap_in_payload(folder: Path, marker: Path) -> None:
    """model.joblib replaced by the payload, metadata.json's sha256 made to match."""
    joblib.dump(Payload(marker), folder / artifacts.MODEL_FILE)
    meta = json.loads((folder / artifacts.METADATA_FILE).read_text())
    meta["sha256"] = artifacts.sha256_of(folder / artifacts.MODEL_FILE)
    (folder / artifacts.METADATA_FILE).write_text(json.dumps(meta))


def _edit_features(folder: Path, marker: Path) -> None:
    meta = json.loads((folder / artifacts.METADATA_FILE).read_text())
    meta["features"] = [*meta["features"][1:], "no_such_feature"]
    (folder / artifacts.METADATA_FILE).write_text(json.dumps(meta))


def _features_not_a_list(folder: Path, marker: Path) -> None:
    meta = json.loads((folder / artifacts.METADATA_FILE).read_text())
    meta["features"] = 7
    (folder / artifacts.METADATA_FILE).write_text(json.dumps(meta))


@pytest.mark.e2e
@pytest.mark.parametrize(
    "tamper", [_swap_in_payload, _edit_features, _features_not_a_list], ids=lambda f: f.__name__
)
def test_swapped_or_edited_artifact_is_refused_before_unpickling(
    warehouse, capsys, tmp_path, tamper
):
    model = "churn_lgbm"
    root = warehouse.root / "artifacts"
    ((version,),) = query(
        warehouse, f"select model_version from ml.training_runs where model_name = '{model}'"
    )
    folder = root / model / version
    saved = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    before = scores(warehouse, model)
    marker = tmp_path / "payload-ran"
    try:
        tamper(folder, marker)
        assert warehouse.scorehouse("score", "--model", model) == 2
    finally:
        for name, content in saved.items():
            (folder / name).write_bytes(content)
    line = one_error_line(capsys.readouterr().err)
    assert not marker.exists(), "the swapped pickle was unpickled"
    assert f"{folder}" in line and "does not match the sha256 recorded in ml.training_runs" in line
    assert "retrain" in line
    assert scores(warehouse, model) == before


@pytest.fixture
def recorded(tmp_path):
    """A saved pipeline artifact and the digest training records for it."""
    pipeline = Pipeline([("model", LogisticRegression())]).fit([[0.0], [1.0], [2.0]], [0, 0, 1])
    artifact = artifacts.save(tmp_path, "m", pipeline, {"features": ["x"]})
    return tmp_path, artifact


@pytest.mark.parametrize("tamper", [_swap_in_payload, _edit_features], ids=lambda f: f.__name__)
@pytest.mark.parametrize("where", ["load", "scoring_task"])
def test_executors_refuse_a_swapped_artifact_without_unpickling(recorded, tamper, where):
    """artifacts.load and ScoringTask (what each Spark Python worker runs) check the
    recorded digest before anything is unpickled."""
    root, artifact = recorded
    marker = root / "payload-ran"
    tamper(artifact.path, marker)
    with pytest.raises(ScorehouseError) as refused:
        if where == "load":
            artifacts.load(root, "m", artifact.version, expected=artifact.digest)
        else:
            task = ScoringTask(
                str(root), "m", artifact.version, artifact.digest, "id", 0, False, {}
            )
            task.model()
    assert not marker.exists()
    message = str(refused.value)
    assert "\n" not in message and str(artifact.path) in message
    assert "does not match the sha256 recorded" in message


# ---- 3. clean after a train killed between saving and recording ---------------------


def _recorded_version(warehouse, model: str) -> str:
    """A version saved and recorded in ml.training_runs, as a train does."""
    artifact = artifacts.save(
        warehouse.root / "artifacts", model, DummyClassifier(), {"features": []}
    )
    write(
        warehouse,
        "insert into ml.training_runs (run_id, model_name, model_version, artifact_sha256) "
        f"values ('fault-test-{artifact.version}', '{model}', '{artifact.version}', "
        f"'{artifact.digest}')",
    )
    return artifact.version


def _age(path: Path, hours: float) -> None:
    stamp = time.time() - hours * 3600
    for p in [path, *path.rglob("*")]:
        os.utime(p, (stamp, stamp))


@pytest.mark.e2e
def test_clean_ranks_only_recorded_versions(warehouse, capsys):
    model = "churn_lgbm"
    root = warehouse.root / "artifacts"
    (scoring_version,) = artifacts.versions(root, model)  # recorded, scored the last month
    added = []
    try:
        added += [_recorded_version(warehouse, model) for _ in range(3)]
        # a train killed between saving and recording, two hours ago (the newest on disk
        # but for a train still recording its run a moment ago)
        orphan = artifacts.save(root, model, DummyClassifier(), {"features": []})
        _age(orphan.path, 2)
        young = artifacts.save(root, model, DummyClassifier(), {"features": []})
        added += [orphan.version, young.version]
        capsys.readouterr()
        assert warehouse.scorehouse("clean", "--keep", "1", "--model", model) == 0
        assert artifacts.versions(root, model) == [scoring_version, added[2], young.version]
        out = capsys.readouterr().out
        assert f"{model}: deleted 3 " in out
        assert "1 of them unrecorded leftover of an interrupted train" in out
        assert "1 unrecorded version saved less than 1 h ago" in out
    finally:
        for version in added:
            shutil.rmtree(root / model / version, ignore_errors=True)
        write(warehouse, "delete from ml.training_runs where run_id like 'fault-test-%'")


# ---- 4. an artifacts directory that cannot be written ---------------------------------


def _not_a_directory(warehouse, monkeypatch, tmp_path):
    blocker = tmp_path / "artifacts-is-a-file"
    blocker.write_text("not a directory")
    monkeypatch.setitem(warehouse.env, "SCOREHOUSE_ARTIFACTS", str(blocker))
    return blocker


def _read_only(warehouse, monkeypatch, tmp_path):
    """mkdir under the artifacts directory fails as on a read-only mount (the tests run
    as root, for whom chmod does not deny writes)."""
    root = tmp_path / "read-only-artifacts"
    root.mkdir()
    real = os.mkdir

    def mkdir(path, *args, **kwargs):
        if str(path).startswith(str(root)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setitem(warehouse.env, "SCOREHOUSE_ARTIFACTS", str(root))
    return root


def _disk_full(warehouse, monkeypatch, tmp_path):
    """The disk fills up half-way through writing model.joblib."""
    root = tmp_path / "full-artifacts"

    def dump(value, filename, *args, **kwargs):
        Path(filename).write_bytes(b"\x80" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    monkeypatch.setattr(artifacts.joblib, "dump", dump)
    monkeypatch.setitem(warehouse.env, "SCOREHOUSE_ARTIFACTS", str(root))
    return root


@pytest.mark.e2e
@pytest.mark.parametrize(
    "fault", [_not_a_directory, _read_only, _disk_full], ids=lambda f: f.__name__
)
def test_unwritable_artifacts_directory_is_one_line(
    warehouse, monkeypatch, capsys, tmp_path, fault
):
    model = "data_addon_scorecard"
    runs = query(warehouse, "select count(*) from ml.training_runs")
    root = fault(warehouse, monkeypatch, tmp_path)
    capsys.readouterr()
    assert warehouse.scorehouse("train", "--model", model) == 2
    line = one_error_line(capsys.readouterr().err)
    monkeypatch.undo()
    assert f"cannot write the artifact of '{model}' under {root}" in line
    assert "SCOREHOUSE_ARTIFACTS" in line
    leftovers = list((root / model).glob(".tmp-*")) if (root / model).is_dir() else []
    assert leftovers == []
    assert query(warehouse, "select count(*) from ml.training_runs") == runs


# ---- 5. more pieces than the ids can fill --------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--pieces", "11"], "--pieces 11 is more than the 10 distinct piece values"),
        (["--pieces", "2000"], "--pieces 2000 is more than the 10 distinct piece values"),
        (["--pieces", "10"], None),
    ],
)
def test_more_pieces_than_piece_values_is_refused(warehouse, capsys, args, refusal):
    model = "churn_lgbm"  # piece_by: last_digit, ids ending in every digit
    before = scores(warehouse, model)
    capsys.readouterr()
    code = warehouse.scorehouse("score", "--model", model, *args)
    if refusal is None:
        assert code == 0
        after = scores(warehouse, model)
        assert after.keys() == before.keys()
        assert max(abs(after[e] - before[e]) for e in before) < 1e-12
        return
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert refusal in line and "piece_by 'last_digit'" in line
    assert "--pieces 10 or fewer" in line
    assert scores(warehouse, model) == before


@pytest.mark.e2e
def test_position_pieces_resume_and_a_reordered_rebuild_starts_over(
    warehouse, monkeypatch, capsys, caplog
):
    """piece_by: position (DuckDB row-id ranges): a run stopped after 2 of 4 pieces resumes
    to the same scores as one piece; stopped again, the input rebuilt with the same rows in
    another order (same fingerprint, other positions): the staged ids no longer partition
    the month, the run refuses to swap and the rerun starts over."""
    import dataclasses

    from python_scoring import registry
    from python_scoring.jobs import steps
    from python_scoring.scoring import score

    model, relation = "data_addon_scorecard", "data_addon_scoring_input"
    real_registry = registry.load_registry

    def by_position(project):
        specs = real_registry(project)
        specs[model] = dataclasses.replace(specs[model], piece_by="position")
        return specs

    monkeypatch.setattr(registry, "load_registry", by_position)
    monkeypatch.setattr(steps, "load_registry", by_position)

    def stop_after_two(written: int) -> None:
        if written == 2:
            raise KeyboardInterrupt

    original = scores(warehouse, model)
    try:
        monkeypatch.setattr(score, "_crash_test_hook", stop_after_two)
        assert warehouse.scorehouse("score", "--model", model, "--pieces", "4") != 0
        assert scores(warehouse, model) == original  # the slice untouched
        monkeypatch.setattr(score, "_crash_test_hook", lambda written: None)
        assert warehouse.scorehouse("score", "--model", model, "--pieces", "4") == 0
        assert "resuming: pieces 0, 1 already written" in caplog.text
        resumed = scores(warehouse, model)
        assert resumed.keys() == original.keys()
        assert max(abs(resumed[e] - original[e]) for e in original) < 1e-12

        monkeypatch.setattr(score, "_crash_test_hook", stop_after_two)
        assert warehouse.scorehouse("score", "--model", model, "--pieces", "4") != 0
        write(
            warehouse,
            f"create or replace table ml.{relation} as "
            f"select * from ml.{relation} order by subscriber_id desc",
        )
        monkeypatch.setattr(score, "_crash_test_hook", lambda written: None)
        capsys.readouterr()
        assert warehouse.scorehouse("score", "--model", model, "--pieces", "4") == 2
        line = one_error_line(capsys.readouterr().err)
        twice = re.search(r"(\d+) staged twice", line)
        assert twice and int(twice.group(1)) > 0 and "changed between pieces" in line, line
        assert scores(warehouse, model) == resumed  # kept
        assert warehouse.scorehouse("score", "--model", model, "--pieces", "4") == 0
        again = scores(warehouse, model)
        assert max(abs(again[e] - original[e]) for e in original) < 1e-12
    finally:
        monkeypatch.undo()
        warehouse.dbt("build", "--select", relation, "--quiet")
        assert warehouse.scorehouse("score", "--model", model) == 0
