"""Small helpers shared by the corporate and the retail generators."""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa


def _months(start: datetime.date, n: int, offset: int = 0) -> list[datetime.date]:
    """n first-of-month dates from `offset` months after start."""
    index = start.year * 12 + start.month - 1 + offset
    return [datetime.date((index + k) // 12, (index + k) % 12 + 1, 1) for k in range(n)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _text(values: tuple[str, ...], codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object)[codes], type=pa.string(), mask=null)


def _days(dates: np.ndarray) -> pa.Array:
    return pa.array(dates.astype("datetime64[D]"), type=pa.date32())
