import errno
import json
import logging
import os
import time

import pytest
from sklearn.linear_model import LogisticRegression

from python_scoring import artifacts
from python_scoring.errors import ScorehouseError


@pytest.fixture
def saved(tmp_path):
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    return artifacts.save(tmp_path, "m", model, {"features": ["x"]}), tmp_path


def _edit_metadata(artifact, **changes):
    meta_path = artifact.path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


def test_round_trip_and_versions(saved):
    first, root = saved
    second = artifacts.save(root, "m", LogisticRegression(), {"features": ["x"]})
    assert artifacts.versions(root, "m") == [first.version, second.version]
    assert first.digest == artifacts.digest(first.path) != second.digest
    loaded, model = artifacts.load(root, "m", first.version, first.digest)
    assert loaded.metadata["features"] == ["x"] and model.predict([[3.0]])[0] == 1
    assert loaded.digest == first.digest and loaded.sha256 == first.sha256


def test_digest_covers_both_files(saved):
    artifact, _ = saved
    before = artifacts.digest(artifact.path)
    _edit_metadata(artifact, features=["y"])
    edited = artifacts.digest(artifact.path)
    assert edited != before
    (artifact.path / "model.joblib").write_bytes(b"x")
    assert artifacts.digest(artifact.path) not in {before, edited}


@pytest.mark.parametrize("change", ["model", "metadata"])
def test_tampered_file_is_refused_before_unpickling(saved, monkeypatch, change):
    artifact, root = saved
    if change == "model":
        (artifact.path / "model.joblib").write_bytes(b"not a pickle at all")
    else:
        _edit_metadata(artifact, features=["x", "y"])
    monkeypatch.setattr(artifacts.joblib, "load", lambda *_: pytest.fail("unpickled"))
    with pytest.raises(ScorehouseError, match="does not match the sha256 recorded in ml.train"):
        artifacts.load(root, "m", artifact.version, artifact.digest)


def test_no_recorded_digest_is_refused(saved, monkeypatch):
    artifact, root = saved
    monkeypatch.setattr(artifacts.joblib, "load", lambda *_: pytest.fail("unpickled"))
    with pytest.raises(ScorehouseError, match="records no artifact sha256"):
        artifacts.load(root, "m", artifact.version, None)


def test_digest_of_an_earlier_scorehouse_is_accepted_with_a_warning(saved, caplog):
    """Versions recorded before metadata.json was covered: the record holds the sha256
    of model.joblib alone, which still guards the pickle."""
    artifact, root = saved
    with caplog.at_level(logging.WARNING, logger="python_scoring.artifacts"):
        loaded, model = artifacts.load(root, "m", artifact.version, artifact.sha256)
    assert model.predict([[3.0]])[0] == 1 and loaded.digest == artifact.sha256
    assert "metadata.json is not covered" in caplog.text
    # a legacy record with a swapped model file: refused before unpickling
    artifacts.joblib.dump(LogisticRegression(), artifact.path / "model.joblib")
    with pytest.raises(ScorehouseError, match="does not match the sha256 recorded"):
        artifacts.load(root, "m", artifact.version, artifact.sha256)


def test_library_version_mismatch_is_refused(saved):
    artifact, root = saved
    versions = json.loads((artifact.path / "metadata.json").read_text())["library_versions"]
    _edit_metadata(artifact, library_versions={**versions, "scikit-learn": "0.1.0"})
    with pytest.raises(ScorehouseError, match=r"scikit-learn 0\.1\.0 \(installed"):
        # recorded so (an artifact written elsewhere with other libraries)
        artifacts.load(root, "m", artifact.version, artifacts.digest(artifact.path))


def test_missing_model_and_version(saved):
    artifact, root = saved
    with pytest.raises(ScorehouseError, match="no trained artifact for model 'other'"):
        artifacts.load(root, "other", artifact.version, artifact.digest)
    with pytest.raises(ScorehouseError, match="has no version 'v0'"):
        artifacts.load(root, "m", "v0", artifact.digest)


def test_incomplete_version_directories_are_ignored(saved):
    artifact, root = saved
    (root / "m" / ".tmp-v9").mkdir()
    (root / "m" / "v9-crashed").mkdir()  # no metadata.json: never finished
    assert artifacts.versions(root, "m") == [artifact.version]


def test_failed_save_leaves_no_temporary_directory(tmp_path, monkeypatch):
    def dump(value, filename, *args, **kwargs):
        filename.write_bytes(b"\x80" * 1000)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    monkeypatch.setattr(artifacts.joblib, "dump", dump)
    with pytest.raises(ScorehouseError, match="No space left on device") as failed:
        artifacts.save(tmp_path, "m", LogisticRegression(), {"features": ["x"]})
    assert f"cannot write the artifact of 'm' under {tmp_path}" in str(failed.value)
    assert list((tmp_path / "m").iterdir()) == []


def _aged(path, hours):
    stamp = time.time() - hours * 3600
    for p in [path, *path.iterdir()]:
        os.utime(p, (stamp, stamp))


def test_prune_ranks_recorded_versions_only(saved):
    first, root = saved
    model = LogisticRegression()
    recorded = [artifacts.save(root, "m", model, {}).version for _ in range(2)]
    orphan = artifacts.save(root, "m", model, {})  # saved, never recorded: the newest
    _aged(orphan.path, 2)
    young = artifacts.save(root, "m", model, {})
    tmp = root / "m" / ".tmp-v-crashed"
    tmp.mkdir()
    _aged(tmp, 2)

    pruned = artifacts.prune(root, "m", 1, {first.version}, {first.version, *recorded})
    assert [p.name for p in pruned.old] == [recorded[0]]
    assert [p.name for p in pruned.leftovers] == [orphan.version, tmp.name]
    assert [p.name for p in pruned.recent] == [young.version]
    assert artifacts.versions(root, "m") == [first.version, recorded[1], young.version]
    assert not tmp.exists()
    with pytest.raises(ScorehouseError, match="--keep must be at least 1"):
        artifacts.prune(root, "m", 0, set(), set())
