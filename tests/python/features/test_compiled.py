"""lleaves-compiled prediction: equal to LightGBM, cached per artifact sha256, verified
before loading, and LightGBM whenever anything is off."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression

from python_scoring.artifacts import Artifact
from python_scoring.features import compiled


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(4000, 12)), columns=[f"f{i}" for i in range(12)])
    X[X > 2.2] = np.nan  # missing values take LightGBM's default branches
    y = ((X["f0"].fillna(0) + X["f1"].fillna(0) * 0.5 + rng.normal(size=4000)) > 0.8).astype(int)
    model = LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1).fit(X, y)
    return model, X


def artifact(tmp_path, sha="ab" * 32):
    return Artifact("m", "v1", tmp_path, {"sha256": sha})


def test_compiled_equals_lightgbm_and_is_cached(fitted, tmp_path, caplog):
    model, X = fitted
    caplog.set_level(logging.INFO, logger="python_scoring.features.compiled")
    predictor = compiled.predictor_for(model, artifact(tmp_path))
    fast = predictor.predict(X)
    assert predictor.method == "lleaves"
    np.testing.assert_allclose(fast, model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert (tmp_path / f"compiled-{'ab' * 32}.so").exists()
    assert "compiled v1 with lleaves" in caplog.text
    caplog.clear()
    again = compiled.predictor_for(model, artifact(tmp_path))
    assert "loaded compiled model" in caplog.text
    np.testing.assert_array_equal(again.predict(X), fast)


def test_tampered_library_is_recompiled_not_loaded(fitted, tmp_path, caplog):
    model, X = fitted
    compiled.predictor_for(model, artifact(tmp_path)).predict(X.head(10))
    library = tmp_path / f"compiled-{'ab' * 32}.so"
    library.write_bytes(library.read_bytes() + b"\0")
    predictor = compiled.predictor_for(model, artifact(tmp_path))
    assert "does not match its recorded sha256" in caplog.text
    np.testing.assert_allclose(predictor.predict(X), model.predict_proba(X)[:, 1], atol=1e-12)


def test_mismatch_falls_back_to_lightgbm(fitted, tmp_path, caplog, monkeypatch):
    model, X = fitted
    predictor = compiled.predictor_for(model, artifact(tmp_path))
    original = predictor.inner.compiled.predict
    monkeypatch.setattr(
        predictor.inner.compiled, "predict", lambda *a, **k: original(*a, **k) + 1e-6
    )
    scores = predictor.predict(X)
    assert predictor.method == "estimator" and "using LightGBM" in caplog.text
    np.testing.assert_array_equal(scores, model.predict_proba(X)[:, 1])


def test_without_lleaves_or_for_other_models_lightgbm_predicts(
    fitted, tmp_path, caplog, monkeypatch
):
    model, X = fitted
    monkeypatch.setitem(sys.modules, "lleaves", None)  # import fails
    predictor = compiled.predictor_for(model, artifact(tmp_path))
    assert predictor.method == "estimator" and "lleaves unavailable" in caplog.text
    linear = LogisticRegression().fit(X.fillna(0), (X["f0"].fillna(0) > 0).astype(int))
    assert compiled.predictor_for(linear, artifact(tmp_path)).method == "estimator"
    assert (
        compiled.predictor_for(model, artifact(tmp_path), compile_trees=False).method == "estimator"
    )


def test_elf_check_passes_whole_libraries_only(fitted, tmp_path):
    model, _ = fitted
    compiled.predictor_for(model, artifact(tmp_path))
    whole = (tmp_path / f"compiled-{'ab' * 32}.so").read_bytes()
    assert compiled.elf_problem(whole) is None
    # every cut of the file is caught (LLVM would abort the process on it)
    cuts = sorted({*range(0, 80), *range(80, len(whole), 97), len(whole) - 1})
    problems = {n: compiled.elf_problem(whole[:n]) for n in cuts}
    assert all(problems.values()), [n for n, p in problems.items() if p is None]
    assert problems[0] == "0 bytes"
    assert "truncated" in problems[len(whole) - 1]
    assert compiled.elf_problem(b"MZ" + whole[2:]) == f"{len(whole)} bytes, not an ELF object"


def test_c_ordered_copies_a_frame_once_into_rows_the_trees_read():
    """Mixed column dtypes (split blocks, as Arrow gives them) become one C-ordered
    float64 array equal to the frame's values; an array passes through as C order."""
    frame = pd.DataFrame(
        {
            "a": [1.5, np.nan, -2.0],
            "b": np.array([3, 4, 5], dtype="int32"),
            "c": [True, False, True],
        }
    )
    values = compiled.c_ordered(frame)
    assert values.flags["C_CONTIGUOUS"] and values.dtype == np.float64
    np.testing.assert_array_equal(values, frame.to_numpy(dtype=np.float64))
    column_major = np.asfortranarray(values)
    again = compiled.c_ordered(column_major)
    assert again.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(again, values)
