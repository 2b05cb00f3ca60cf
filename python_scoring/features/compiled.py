"""Fast prediction for LightGBM artifacts: the trees compiled to native code by lleaves.

lleaves (LLVM) turns a LightGBM model into a shared library that predicts several times
faster than `Booster.predict` (bench/scoring_throughput.py). It is compiled once per
artifact version and cached beside the artifact as `compiled-<artifact sha256>.so`, with
the library's own sha256 in `compiled-<artifact sha256>.json` (checked before loading:
like the joblib file, native code is only loaded when it is the file this tool wrote).
On the first rows it scores, the compiled model must agree with LightGBM within 1e-9,
else scoring falls back to LightGBM; so it does when lleaves cannot be imported or the
compilation fails. Both cases say so in the log.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from python_scoring.artifacts import Artifact, sha256_of

log = logging.getLogger(__name__)
TOLERANCE = 1e-9
CHECK_ROWS = 10_000
THREADS = 2


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
        values = np.ascontiguousarray(np.asarray(features, dtype="float64"))
        fast = self.compiled.predict(values, n_jobs=THREADS)
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


def _compile(model: Any, artifact: Artifact) -> Any:
    """The lleaves model, from the verified cache beside the artifact or compiled now."""
    import lleaves

    key = artifact.sha256
    library = artifact.path / f"compiled-{key}.so"
    record = artifact.path / f"compiled-{key}.json"
    cached = (
        library.exists()
        and record.exists()
        and json.loads(record.read_text()).get("sha256") == sha256_of(library)
    )
    if library.exists() and not cached:
        log.warning("%s does not match its recorded sha256: compiling again", library.name)
        library.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "model.txt"
        model.booster_.save_model(model_file)
        compiled = lleaves.Model(model_file=str(model_file))
        if cached:
            compiled.compile(cache=str(library))  # loads the library, compiles nothing
            log.info("loaded compiled model %s", library.name)
            return compiled
        partial = artifact.path / f".tmp-compiled-{key}-{os.getpid()}.so"
        compiled.compile(cache=str(partial))
    os.replace(partial, library)  # a crash never leaves a half-written library in place
    record.write_text(json.dumps({"sha256": sha256_of(library), "artifact_sha256": key}))
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
