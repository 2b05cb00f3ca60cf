"""Versioned model artifacts: `<artifacts>/<model>/<version>/model.joblib` + `metadata.json`.

The metadata holds the sha256 of the joblib file and the library versions it was fitted
with. Loading checks both *before* unpickling, so a tampered or mismatched file is
refused, never executed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib

from python_scoring.errors import ScorehouseError

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
# Libraries whose pickles must be loaded by the same version that wrote them.
PINNED_LIBRARIES = ("scikit-learn", "lightgbm", "numpy", "pandas")


def library_versions() -> dict[str, str]:
    versions = {name: importlib_metadata.version(name) for name in PINNED_LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_version() -> str:
    return dt.datetime.now(dt.UTC).strftime("v%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class Artifact:
    model_name: str
    version: str
    path: Path
    metadata: dict[str, Any]

    @property
    def sha256(self) -> str:
        return self.metadata["sha256"]


def save(root: Path, model_name: str, estimator: Any, metadata: dict[str, Any]) -> Artifact:
    """Write the estimator and its metadata into a new version directory.

    Files are written under a temporary name and renamed into place, so a crash never
    leaves a version directory that looks complete but is not.
    """
    version = new_version()
    final_dir = root / model_name / version
    tmp_dir = root / model_name / f".tmp-{version}"
    tmp_dir.mkdir(parents=True)
    joblib.dump(estimator, tmp_dir / MODEL_FILE)
    full = {
        **metadata,
        "model_name": model_name,
        "version": version,
        "sha256": sha256_of(tmp_dir / MODEL_FILE),
        "library_versions": library_versions(),
    }
    (tmp_dir / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
    os.replace(tmp_dir, final_dir)
    return Artifact(model_name, version, final_dir, full)


def versions(root: Path, model_name: str) -> list[str]:
    """Complete versions of a model, oldest first."""
    model_dir = root / model_name
    if not model_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in model_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file()
    )


def load(root: Path, model_name: str, version: str | None = None) -> tuple[Artifact, Any]:
    """The verified artifact (latest version unless given) and its unpickled estimator."""
    available = versions(root, model_name)
    if not available:
        raise ScorehouseError(
            f"no trained artifact for model '{model_name}' under {root}: run `scorehouse train`"
        )
    version = version or available[-1]
    if version not in available:
        raise ScorehouseError(
            f"model '{model_name}' has no version '{version}' (have: {', '.join(available)})"
        )
    path = root / model_name / version
    try:
        meta = json.loads((path / METADATA_FILE).read_text())
        recorded = meta["sha256"], meta["library_versions"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ScorehouseError(f"artifact metadata {path / METADATA_FILE} is corrupt") from exc
    if not (path / MODEL_FILE).is_file():
        raise ScorehouseError(f"artifact {path} has no {MODEL_FILE}")
    actual = sha256_of(path / MODEL_FILE)
    if actual != recorded[0]:
        raise ScorehouseError(
            f"artifact {path / MODEL_FILE} fails its sha256 check (metadata {recorded[0]}, "
            f"file {actual}): refusing to load a modified file"
        )
    current = library_versions()
    mismatched = [
        f"{lib} {recorded[1].get(lib)} (installed {current[lib]})"
        for lib in PINNED_LIBRARIES
        if recorded[1].get(lib) != current[lib]
    ]
    if mismatched:
        raise ScorehouseError(
            f"artifact {path} was written with other library versions: {'; '.join(mismatched)}; "
            "retrain or install the versions it was written with"
        )
    return Artifact(model_name, version, path, meta), joblib.load(path / MODEL_FILE)


def prune(root: Path, model_name: str, keep: int, protected: set[str]) -> list[Path]:
    """Delete all but the newest `keep` versions of a model, never a `protected` one (the
    version that scored the latest month), and any leftover temporary directory of an
    interrupted save. Returns what was deleted."""
    import shutil

    if keep < 1:
        raise ScorehouseError(f"--keep must be at least 1, got {keep}")
    model_dir = root / model_name
    if not model_dir.is_dir():
        return []
    complete = versions(root, model_name)
    doomed = [model_dir / v for v in complete[:-keep] if v not in protected]
    doomed += [p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith(".tmp-")]
    for path in doomed:
        shutil.rmtree(path)
    return doomed
