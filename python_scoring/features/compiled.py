"""Fast prediction for LightGBM artifacts: the trees compiled to native code by lleaves.

lleaves (LLVM) turns a LightGBM model into a shared library that predicts several times
faster than `Booster.predict` (bench/scoring_throughput.py). It is compiled once per
artifact version and cached beside the artifact as `compiled-<artifact sha256>.so`, with
the library's own sha256 in `compiled-<artifact sha256>.json` (checked before loading:
like the joblib file, native code is only loaded when it is the file this tool wrote).
A library is recorded only once it is verified: a whole ELF file (lleaves ignores a failed
write, so a full disk leaves a truncated one, on which LLVM aborts the process) that loads
and predicts as LightGBM does. A cache that fails any of these checks is deleted and
compiled again, the log says why. On the first rows it scores, the compiled model must
agree with LightGBM within 1e-9, else scoring falls back to LightGBM; so it does when
lleaves cannot be imported or the compilation fails. Both cases say so in the log."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from python_scoring.artifacts import Artifact, sha256_of

log = logging.getLogger(__name__)
TOLERANCE = 1e-9
CHECK_ROWS = 10_000
THREADS = 2
# fewer rows are predicted on this thread: lleaves starts a thread pool per call with
# n_jobs > 1 (0.2 to 4 ms, for one row 30 times the prediction); same results either way
THREADED_ROWS = 1_000


class Predictor:
    """Positive-class scores of a fitted estimator (the model step of a pipeline)."""

    method = "estimator"

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, features: Any) -> np.ndarray:
        return self.model.predict_proba(features)[:, 1]


class CompiledLightGBM(Predictor):
    """lleaves-compiled trees, checked against LightGBM on the first batch it scores."""

    method = "lleaves"

    def __init__(self, model: Any, compiled: Any) -> None:
        super().__init__(model)
        self.compiled = compiled
        self.checked = False

    def predict(self, features: Any) -> np.ndarray:
        values = c_ordered(features)
        threads = THREADS if len(values) >= THREADED_ROWS else 1
        fast = self.compiled.predict(values, n_jobs=threads)
        if not self.checked:
            rows = slice(0, CHECK_ROWS)
            reference = self.model.booster_.predict(values[rows])
            worst = float(np.max(np.abs(fast[rows] - reference))) if len(reference) else 0.0
            if worst > TOLERANCE:
                log.warning(
                    "compiled model differs from LightGBM by %.3g (> %g): using LightGBM",
                    worst,
                    TOLERANCE,
                )
                raise _Mismatch
            log.info(
                "compiled model agrees with LightGBM within %.1e on %d rows", worst, len(reference)
            )
            self.checked = True
        return fast


def c_ordered(features: Any) -> np.ndarray:
    """Rows x features as one C-ordered float64 array (what compiled trees read). A frame
    is copied column by column into it: its `to_numpy` interleaves its blocks into a
    column-major array that would need a second copy (6x slower at 200,000 x 60)."""
    if not hasattr(features, "columns"):
        return np.ascontiguousarray(features, dtype=np.float64)
    values = np.empty((len(features), features.shape[1]), dtype=np.float64)
    for j, (_, column) in enumerate(features.items()):
        values[:, j] = column.to_numpy(dtype=np.float64)
    return values


class _Mismatch(Exception):
    pass


class _FallbackOnMismatch(Predictor):
    """Compiled predictions until a mismatch, then LightGBM for good."""

    def __init__(self, compiled: CompiledLightGBM) -> None:
        super().__init__(compiled.model)
        self.inner: Predictor = compiled
        self.method = compiled.method

    def predict(self, features: Any) -> np.ndarray:
        try:
            return self.inner.predict(features)
        except _Mismatch:
            self.inner = Predictor(self.model)
            self.method = Predictor.method
            return self.inner.predict(features)


def elf_problem(data: bytes) -> str | None:
    """None when `data` is a whole ELF object file (what lleaves caches on Linux): its
    header, its section header table and the bytes of every section lie within the file.
    Else what is wrong, e.g. "0 bytes" or a truncation. LLVM aborts the process (or
    crashes) on a truncated object, so a library is checked this way before it is loaded."""
    size = len(data)
    if size == 0:
        return "0 bytes"
    if size < 6 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return f"{size} bytes, not an ELF object"
    wide = data[4] == 2  # ELF64
    order = "<" if data[5] == 1 else ">"
    if size < (64 if wide else 52):
        return f"{size} bytes, truncated ELF header"
    if wide:
        (table,) = struct.unpack_from(order + "Q", data, 0x28)
        entry_size, entries = struct.unpack_from(order + "HH", data, 0x3A)
    else:
        (table,) = struct.unpack_from(order + "I", data, 0x20)
        entry_size, entries = struct.unpack_from(order + "HH", data, 0x2E)
    if entries == 0 or entry_size < (64 if wide else 40) or table + entries * entry_size > size:
        return f"{size} bytes, section table past the end (truncated)"
    for i in range(entries):
        at = table + i * entry_size
        (kind,) = struct.unpack_from(order + "I", data, at + 4)
        offset, length = struct.unpack_from(
            order + ("QQ" if wide else "II"), data, at + (24 if wide else 16)
        )
        if kind != _SHT_NOBITS and offset + length > size:
            return f"{size} bytes, section {i} past the end (truncated)"
    return None


_SHT_NOBITS = 8  # a section without bytes in the file (.bss)


def _check_rows(n_features: int) -> np.ndarray:
    """Rows to compare a loaded library with LightGBM on: zeros, missing values and
    values of every scale (any row must agree; these reach many leaves)."""
    rng = np.random.default_rng(0)
    scales = np.logspace(-2, 4, 61)[:, None]
    rows = rng.normal(size=(len(scales), n_features)) * scales
    rows[::7, ::3] = np.nan
    return np.vstack([np.zeros(n_features), np.full(n_features, np.nan), rows])


def _disagreement(compiled: Any, model: Any) -> str | None:
    """None when the compiled model predicts the check rows as LightGBM does."""
    rows = _check_rows(model.booster_.num_feature())
    worst = float(np.max(np.abs(compiled.predict(rows, n_jobs=1) - model.booster_.predict(rows))))
    if worst > TOLERANCE or not np.isfinite(worst):
        return f"disagrees with LightGBM (by {worst:.3g})"
    return None


def _cache_problem(library: Path, record: Path) -> str | None:
    """Why the cached library may not be loaded ("" when there is none), None if it may:
    its record readable, its sha256 the recorded one, the file a whole ELF object."""
    if not library.exists():
        return ""
    try:
        recorded = json.loads(record.read_text()).get("sha256")
    except FileNotFoundError:
        return f"has no record ({record.name})"
    except (OSError, ValueError, AttributeError):
        return f"has an unreadable record ({record.name})"
    if recorded != sha256_of(library):
        return "does not match its recorded sha256"
    problem = elf_problem(library.read_bytes())
    return None if problem is None else f"is incomplete ({problem})"


def _load(library: Path, model_file: Path) -> Any:
    """The lleaves model of a library file that passed `elf_problem` (nothing compiled)."""
    import lleaves

    loaded = lleaves.Model(model_file=str(model_file))
    loaded.compile(cache=str(library))
    return loaded


def _keep(partial: Path, library: Path, record: Path, key: str) -> None:
    """Put a verified library in place, then its record: each written in full (fsync)
    under a temporary name and renamed, so a crash or a full disk never leaves a record
    of a file that is not whole."""
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    pending = record.with_name(f".tmp-{record.name}-{os.getpid()}")
    try:
        with pending.open("w") as fh:
            fh.write(json.dumps({"sha256": sha256_of(partial), "artifact_sha256": key}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, library)  # a crash never leaves a half-written library in place
        os.replace(pending, record)
    finally:
        pending.unlink(missing_ok=True)


@contextlib.contextmanager
def _ignored_errors() -> Iterator[list[BaseException]]:
    """Collects the exceptions Python ignores meanwhile: lleaves writes the library from a
    callback of LLVM, whose errors (e.g. ENOSPC) would only be printed as a traceback."""
    ignored: list[BaseException] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: ignored.append(unraisable.exc_value)
    try:
        yield ignored
    finally:
        sys.unraisablehook = previous


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [repr(exc)])[0]


def _compile(model: Any, artifact: Artifact) -> Any:
    """The lleaves model, from the verified cache beside the artifact or compiled now.

    A cached library is loaded only when its record matches it, it is a whole ELF file
    and, once loaded, it predicts as LightGBM does; else it is deleted and compiled again
    (the log says why). A new library is recorded only after the same checks: lleaves
    ignores a failed write (a full disk leaves a truncated file), so a library that was
    not written completely is not kept, and this run uses the model compiled in memory."""
    import lleaves

    key = artifact.sha256
    library = artifact.path / f"compiled-{key}.so"
    record = artifact.path / f"compiled-{key}.json"
    problem = _cache_problem(library, record)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "model.txt"
        model.booster_.save_model(model_file)
        if problem is None:
            try:
                cached = _load(library, model_file)
                problem = _disagreement(cached, model)
            except Exception as exc:
                problem = f"fails to load ({_first_line(exc)})"
            if problem is None:
                log.info("loaded compiled model %s", library.name)
                return cached
        if problem:
            log.warning("%s %s: deleting it and compiling again", library.name, problem)
        library.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
        compiled = lleaves.Model(model_file=str(model_file))
        partial = artifact.path / f".tmp-compiled-{key}-{os.getpid()}.so"
        try:
            with _ignored_errors() as ignored:
                compiled.compile(cache=str(partial))
            written = partial.read_bytes() if partial.exists() else b""
            problem = _first_line(ignored[0]) if ignored else elf_problem(written)
            if problem is None:
                problem = _disagreement(_load(partial, model_file), model)
            if problem is None:
                _keep(partial, library, record, key)
        except OSError as exc:
            problem = _first_line(exc)
        finally:
            partial.unlink(missing_ok=True)
    if problem:
        log.warning(
            "compiled library of %s was not written completely (%s; disk full or directory "
            "not writable?): not cached, this run uses the model compiled in memory",
            artifact.version,
            problem,
        )
        return compiled
    log.info("compiled %s with lleaves into %s", artifact.version, library.name)
    return compiled


def predictor_for(model: Any, artifact: Artifact, compile_trees: bool = True) -> Predictor:
    """The fastest verified predictor for the artifact's estimator."""
    from lightgbm import LGBMClassifier

    if not (compile_trees and isinstance(model, LGBMClassifier)):
        return Predictor(model)
    try:
        compiled = _compile(model, artifact)
    except Exception as exc:
        log.warning("lleaves unavailable (%s): predicting with LightGBM", str(exc).splitlines()[0])
        return Predictor(model)
    return _FallbackOnMismatch(CompiledLightGBM(model, compiled))
