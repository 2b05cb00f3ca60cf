"""Versioned model artifacts: `<artifacts>/<model>/<version>/model.joblib` + `metadata.json`.

The metadata holds the sha256 of the joblib file and the library versions it was fitted
with. The artifact's digest (`digest`: sha256 over the model file's sha256 and the
metadata file's bytes) is what training records in ml.training_runs.artifact_sha256, and
the trust anchor: `load` compares the files with the recorded digest *before* anything is
unpickled, so a swapped or edited file (either of the two) is refused, never executed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib

from python_scoring.errors import ScorehouseError

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
# Libraries whose pickles must be loaded by the same version that wrote them.
PINNED_LIBRARIES = ("scikit-learn", "lightgbm", "numpy", "pandas")
# An unrecorded version or temporary directory younger than this may belong to a train
# that is still saving or recording it: `prune` leaves it alone.
LEFTOVER_AGE_SECONDS = 3600


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


def _digest(model_sha256: str, metadata: bytes) -> str:
    text = f"{MODEL_FILE} sha256 {model_sha256}\n{METADATA_FILE} bytes\n".encode()
    return hashlib.sha256(text + metadata).hexdigest()


def digest(folder: Path) -> str:
    """The digest of a version directory, the one recorded in ml.training_runs: sha256 over
    the model file's sha256 and the metadata file's bytes (the two files, read, never
    unpickled)."""
    return _digest(sha256_of(folder / MODEL_FILE), (folder / METADATA_FILE).read_bytes())


def new_version() -> str:
    return dt.datetime.now(dt.UTC).strftime("v%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class Artifact:
    model_name: str
    version: str
    path: Path
    metadata: dict[str, Any]
    # the digest training records (`digest`); for a loaded artifact, the recorded digest
    # it was verified against
    digest: str = field(default="", compare=False)

    @property
    def sha256(self) -> str:
        """The model file's sha256 (metadata.json's record of it)."""
        return self.metadata["sha256"]


def save(root: Path, model_name: str, estimator: Any, metadata: dict[str, Any]) -> Artifact:
    """Write the estimator and its metadata into a new version directory.

    Files are written under a temporary name and renamed into place, so a crash never
    leaves a version directory that looks complete but is not; a failure (a full disk, a
    read-only directory) removes the temporary directory and is one line."""
    version = new_version()
    final_dir = root / model_name / version
    tmp_dir = root / model_name / f".tmp-{version}"
    try:
        tmp_dir.mkdir(parents=True)
        joblib.dump(estimator, tmp_dir / MODEL_FILE)
        model_sha256 = sha256_of(tmp_dir / MODEL_FILE)
        full = {
            **metadata,
            "model_name": model_name,
            "version": version,
            "sha256": model_sha256,
            "library_versions": library_versions(),
        }
        text = json.dumps(full, indent=2, sort_keys=True, default=str).encode()
        (tmp_dir / METADATA_FILE).write_bytes(text)
        os.replace(tmp_dir, final_dir)
    except BaseException as exc:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if not isinstance(exc, OSError):
            raise
        where = f" ({exc.strerror or exc}: {exc.filename})" if exc.filename else f" ({exc})"
        raise ScorehouseError(
            f"cannot write the artifact of '{model_name}' under {root}{where}: free space "
            "there or make it writable, or set SCOREHOUSE_ARTIFACTS to a writable directory"
        ) from exc
    return Artifact(model_name, version, final_dir, full, _digest(model_sha256, text))


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


def load(
    root: Path,
    model_name: str,
    version: str,
    expected: str | None,
    record: str = "ml.training_runs",
) -> tuple[Artifact, Any]:
    """The artifact `version` of a model and its unpickled estimator, verified first
    against `expected`, the digest `record` holds for it: a file that does not match is
    refused before anything is unpickled. (A digest recorded by an earlier scorehouse, the
    sha256 of model.joblib alone, is accepted with a warning: it covers the pickle but
    not metadata.json.)"""
    available = versions(root, model_name)
    if not available:
        raise ScorehouseError(
            f"no trained artifact for model '{model_name}' under {root}: run `scorehouse train`"
        )
    if version not in available:
        raise ScorehouseError(
            f"model '{model_name}' has no version '{version}' (have: {', '.join(available)})"
        )
    path = root / model_name / version
    retrain = f"retrain it (`scorehouse train --model {model_name}`)"
    if not expected:
        raise ScorehouseError(f"{record} records no artifact sha256 for {path}: {retrain}")
    if not (path / MODEL_FILE).is_file():
        raise ScorehouseError(f"artifact {path} has no {MODEL_FILE}: {retrain}")
    try:
        model_sha256 = sha256_of(path / MODEL_FILE)
        text = (path / METADATA_FILE).read_bytes()
    except OSError as exc:
        raise ScorehouseError(
            f"cannot read artifact {path} ({exc.strerror or exc}): check its permissions"
        ) from exc
    actual = _digest(model_sha256, text)
    legacy = actual != expected and expected == model_sha256
    if actual != expected and not legacy:
        raise ScorehouseError(
            f"artifact {path} does not match the sha256 recorded in {record} (recorded "
            f"{expected[:12]}..., files {actual[:12]}...): {MODEL_FILE} or {METADATA_FILE} "
            f"changed after training; refusing to load it: restore both files or {retrain}"
        )
    if legacy:
        log.warning(
            "artifact %s: %s records the sha256 of %s alone (an earlier scorehouse): %s is "
            "not covered; retrain to cover it",
            path,
            record,
            MODEL_FILE,
            METADATA_FILE,
        )
    try:
        meta = json.loads(text)
        recorded = meta["sha256"], dict(meta["library_versions"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ScorehouseError(f"artifact metadata {path / METADATA_FILE} is corrupt") from exc
    if recorded[0] != model_sha256:
        raise ScorehouseError(
            f"artifact {path / MODEL_FILE} fails its sha256 check (metadata {recorded[0]}, "
            f"file {model_sha256}): refusing to load a modified file: {retrain}"
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
    try:
        estimator = joblib.load(path / MODEL_FILE)
    except Exception as exc:  # verified, yet not loadable here (e.g. a missing module)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ScorehouseError(
            f"artifact {path / MODEL_FILE} cannot be loaded ({first}): {retrain}"
        ) from exc
    return Artifact(model_name, version, path, meta, expected), estimator


@dataclass(frozen=True)
class Pruned:
    """What `prune` did to one model's directory."""

    old: list[Path]  # recorded versions beyond the newest `keep`: deleted
    leftovers: list[Path]  # unrecorded versions, temporary dirs of interrupted saves: deleted
    recent: list[Path]  # unrecorded but younger than LEFTOVER_AGE_SECONDS: kept

    @property
    def deleted(self) -> list[Path]:
        return [*self.old, *self.leftovers]


def _age_seconds(path: Path) -> float:
    """Seconds since the directory or a file directly in it was last written."""
    stamps = [path.stat().st_mtime, *(p.stat().st_mtime for p in path.iterdir())]
    return time.time() - max(stamps)


def prune(
    root: Path, model_name: str, keep: int, protected: set[str], recorded: set[str]
) -> Pruned:
    """Delete all but the newest `keep` of the versions training `recorded` (never a
    `protected` one: the version that scored the latest month), and the leftovers of
    interrupted trains: versions saved but never recorded, temporary directories of
    interrupted saves. Leftovers younger than LEFTOVER_AGE_SECONDS are kept (a train may
    be recording them right now); unrecorded versions never count among the newest."""
    if keep < 1:
        raise ScorehouseError(f"--keep must be at least 1, got {keep}")
    model_dir = root / model_name
    if not model_dir.is_dir():
        return Pruned([], [], [])
    complete = versions(root, model_name)
    ranked = [v for v in complete if v in recorded]
    old = [model_dir / v for v in ranked[:-keep] if v not in protected]
    unrecorded = [model_dir / v for v in complete if v not in recorded and v not in protected]
    unrecorded += sorted(
        p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith(".tmp-")
    )
    recent = [p for p in unrecorded if _age_seconds(p) < LEFTOVER_AGE_SECONDS]
    leftovers = [p for p in unrecorded if p not in recent]
    for path in [*old, *leftovers]:
        shutil.rmtree(path)
    return Pruned(old, leftovers, recent)
