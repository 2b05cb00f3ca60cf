import json

import pytest
from sklearn.linear_model import LogisticRegression

from python_scoring import artifacts
from python_scoring.errors import ScorehouseError


@pytest.fixture
def saved(tmp_path):
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    return artifacts.save(tmp_path, "m", model, {"features": ["x"]}), tmp_path


def test_round_trip_and_latest_version(saved):
    first, root = saved
    second = artifacts.save(root, "m", LogisticRegression(), {"features": ["x"]})
    assert artifacts.versions(root, "m") == [first.version, second.version]
    loaded, model = artifacts.load(root, "m", first.version)
    assert loaded.metadata["features"] == ["x"] and model.predict([[3.0]])[0] == 1
    assert artifacts.load(root, "m")[0].version == second.version


def test_tampered_file_is_refused_before_unpickling(saved, monkeypatch):
    artifact, root = saved
    (artifact.path / "model.joblib").write_bytes(b"not a pickle at all")
    monkeypatch.setattr(artifacts.joblib, "load", lambda *_: pytest.fail("unpickled"))
    with pytest.raises(ScorehouseError, match="fails its sha256 check"):
        artifacts.load(root, "m")


def test_library_version_mismatch_is_refused(saved):
    artifact, root = saved
    meta_path = artifact.path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["library_versions"]["scikit-learn"] = "0.1.0"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ScorehouseError, match=r"scikit-learn 0\.1\.0 \(installed"):
        artifacts.load(root, "m")


def test_missing_model_and_version(saved):
    _, root = saved
    with pytest.raises(ScorehouseError, match="no trained artifact for model 'other'"):
        artifacts.load(root, "other")
    with pytest.raises(ScorehouseError, match="has no version 'v0'"):
        artifacts.load(root, "m", "v0")


def test_incomplete_version_directories_are_ignored(saved):
    artifact, root = saved
    (root / "m" / ".tmp-v9").mkdir()
    (root / "m" / "v9-crashed").mkdir()  # no metadata.json: never finished
    assert artifacts.versions(root, "m") == [artifact.version]
