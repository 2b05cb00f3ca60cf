"""Input handling shared by the transformers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_frame(X, columns: list[str] | None = None) -> pd.DataFrame:
    """X as a DataFrame; arrays get the fitted column names (or x0, x1, ...)."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-dimensional input, got shape {array.shape}")
    if columns is None or len(columns) != array.shape[1]:
        columns = [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=columns)


def binary_label(y, n_rows: int) -> np.ndarray:
    label = np.asarray(y)
    if label.shape != (n_rows,):
        raise ValueError(f"y must be 1-dimensional with {n_rows} rows, got shape {label.shape}")
    if pd.isna(label).any():
        raise ValueError("y holds nulls")
    values = set(np.unique(label).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"y must be a 0/1 label, got values {sorted(values)[:5]}")
    if len(values) < 2:
        raise ValueError("y must hold both classes (0 and 1)")
    return label.astype("int64")


def stratified_rows(y: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """Positions of a label-stratified random sample of at most max_rows rows (all rows,
    in order, when there are fewer). Both classes keep the same sampling fraction."""
    if max_rows is None or y.size <= max_rows:
        return np.arange(y.size)
    rng = np.random.default_rng(seed)
    fraction = max_rows / y.size
    picked = []
    for cls in (0, 1):
        rows = np.flatnonzero(y == cls)
        n = max(1, round(rows.size * fraction))
        picked.append(rng.choice(rows, size=n, replace=False))
    return np.sort(np.concatenate(picked))


def fit_sample(X, y, max_rows: int | None, seed: int):
    """What a supervised transformer fits on: X as a DataFrame, and the label-stratified
    sample of at most max_rows rows (its rows and its 0/1 labels)."""
    frame = as_frame(X)
    label = binary_label(y, len(frame))
    rows = stratified_rows(label, max_rows, seed)
    return frame, frame.iloc[rows], label[rows]


def check_columns(frame: pd.DataFrame, required: list[str], who: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{who}: input lacks column(s) {', '.join(missing)} seen at fit")


def is_arithmetic(series: pd.Series) -> bool:
    """Numbers that arithmetic makes sense on (not booleans, dates or text)."""
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
