"""Reference implementations of PSI (population stability index) and IV (information value).

A dbt SQL macro computes the same statistics in the warehouse; these functions are the
definition it is checked against (SQL == Python to 1e-9), so every step below is exact and
deliberate. Everything is float64 numpy.

Binning
-------
- Nulls (NaN, None, pd.NA) always form their own bin, the *null bin* (bin index -1). It is
  a bin like any other: it counts towards every share's denominator.
- Numeric columns (numeric dtypes except bool, incl. pandas nullable Int64/Float64 and
  object columns holding only numbers/nulls) are cut into equal-frequency bins:

  ``equal_frequency_cuts(v, bins)``: drop nulls; ``q = np.quantile(v, [j/bins for j in
  1..bins-1])`` (numpy's default linear interpolation, i.e. pandas ``Series.quantile``,
  DuckDB ``quantile_cont``, PostgreSQL ``percentile_cont``); keep the quantiles strictly
  greater than ``min(v)`` and strictly less than ``max(v)``, deduplicated and sorted. These
  are the internal cut points. This reproduces ``pandas.qcut(..., duplicates='drop')``: a
  cut equal to the minimum disappears (zero-inflated counts), a constant column has no cut
  (one bin).

  ``assign_bins(x, cuts)``: bin = number of cuts strictly less than x
  (``np.searchsorted(cuts, x, side='left')``), i.e. right-closed intervals
  ``(c[j-1], c[j]]``; values below the first cut are in bin 0 and values above the last
  cut are in the last bin (the outer edges are -inf/+inf, like feature_engine), so values
  outside the baseline range land in the end bins. Nulls get bin -1.
- Non-numeric columns (object/string/categorical dtype, and bool): every distinct value is
  its own bin (the null bin again collects the nulls). Datetime-like columns are refused.

Zero shares
-----------
``EPSILON = 1e-4``: a bin share of exactly 0 is replaced by EPSILON (feature_engine's
``min_pct_empty_bins`` in ``DropHighPSIFeatures`` and ``fill_value`` in its WoE). Shares are
*not* renormalised afterwards.

PSI
---
Cuts come from the baseline (unless given). On each side share_i = rows in bin i / all rows
of that side *including nulls*; zero shares -> EPSILON;
``PSI = sum_i (cur_i - base_i) * ln(cur_i / base_i)`` over the bins holding at least one row
on either side (a bin empty on both sides would contribute exactly 0, so it is left out).
For non-numeric columns the bins are the distinct values of both sides.

IV
--
Numeric values are cut with cuts from the values themselves (unless given). With label
0/1: event_share_i = events in bin i / all events, nonevent_share_i likewise; zero shares
-> EPSILON; ``WOE_i = ln(event_share_i / nonevent_share_i)`` (positive WOE = the bin's
event rate is above average); ``IV = sum_i (event_share_i - nonevent_share_i) * WOE_i``
over the bins holding at least one row.

``psi`` and ``iv`` are the sums of the ``contribution`` / ``iv_contribution`` columns of
``psi_table`` / ``woe_table``: one code path per statistic.

Differences from feature_engine (1.9.4), all tested in tests/python/test_stats.py
-------------------------------------------------------------------------------------
- Nulls: ``DropHighPSIFeatures(missing_values='ignore')`` drops nulls before binning (shares
  of the non-null rows only) and ``SelectByInformationValue`` / ``WoE`` refuse nulls. Here
  nulls are a bin of their own and count in every denominator. Without nulls the
  definitions coincide (the null bin holds no row and contributes nothing).
- Quantile probabilities: pandas>=3 ``qcut`` (used by feature_engine's
  ``EqualFrequencyDiscretiser``) takes ``np.linspace(0, 1, bins + 1)`` and bumps every
  probability that is not exactly ``j/bins`` up by one ulp; here the probability is the
  double ``j/bins`` (what a SQL literal such as 0.7 is). The two only bin differently when
  the exact quantile falls on an order statistic (``(n-1)*j/bins`` is an integer) whose
  neighbour differs, and ``(n-1)*(j/bins)`` rounds just below that integer: numpy then
  returns a cut one rounding error below that value, which therefore lands in the upper
  bin, whereas qcut keeps it in the lower one (e.g. ``n = 91, j/bins = 0.7``); here a cut
  within 1e-12 of the order statistic quantile_disc gives is that order statistic
  (``sql_quantiles``), which keeps such a value in the lower bin as qcut does.
  DuckDB's ``quantile_cont`` rounds its interpolation differently from numpy (numpy uses
  ``hi - (hi-lo)*(1-d)`` for ``d >= 0.5``), so in those same edge cases the warehouse and
  numpy can disagree too (seen with duckdb 2.0: ``np.arange(331)*1.7 + 0.3``, p = 0.7:
  numpy 392.99999999999994, DuckDB 393.0), and between equal order statistics DuckDB 1.5
  can miss their value by an ulp (``sql_quantiles`` emulates it). Otherwise nothing
  changes when ``(n-1)*j/bins`` is not an integer.
- Label: feature_engine remaps any two-valued target to 0/1; here the label must be 0/1.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

EPSILON = 1e-4

__all__ = [
    "EPSILON",
    "assign_bins",
    "equal_frequency_cuts",
    "is_numeric",
    "iv",
    "psi",
    "psi_table",
    "woe_table",
]

_NUMERIC_OBJECT_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "empty"}


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------


def _as_series(values, name: str) -> pd.Series:
    """Any 1-d input (list, numpy array, pandas Series/array) as a positional Series."""
    if isinstance(values, pd.DataFrame):
        raise ValueError(f"{name} must be 1-dimensional, got a DataFrame")
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, pd.api.extensions.ExtensionArray | pd.Index):
        return pd.Series(values)
    arr = np.asarray(values, dtype=object) if isinstance(values, list | tuple) else values
    arr = np.asarray(arr)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if arr.dtype == object:
        # let pandas infer a proper dtype (float for [1, None], str for strings, ...)
        return pd.Series(list(arr))
    return pd.Series(arr)


def _is_numeric(s: pd.Series, name: str) -> bool:
    dtype = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise TypeError(f"{name} is datetime-like; convert it to a number first")
    if pd.api.types.is_bool_dtype(dtype):
        return False
    if pd.api.types.is_numeric_dtype(dtype):
        return True
    if pd.api.types.is_object_dtype(dtype):
        return pd.api.types.infer_dtype(s, skipna=True) in _NUMERIC_OBJECT_KINDS
    return False


def is_numeric(values) -> bool:
    """True when ``values`` are binned by equal-frequency cuts, False when every distinct
    value is its own bin (text, booleans, categories)."""
    return _is_numeric(_as_series(values, "values"), "values")


def _to_float(s: pd.Series, name: str) -> np.ndarray:
    """Numeric Series -> float64 array with NaN for every null; infinities are refused."""
    if pd.api.types.is_object_dtype(s.dtype):
        s = pd.to_numeric(s)
    out = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(out).any():
        raise ValueError(f"{name} holds infinite values")
    return out


def _numeric(values, name: str) -> np.ndarray:
    s = _as_series(values, name)
    if not _is_numeric(s, name):
        raise TypeError(f"{name} must be numeric, got dtype {s.dtype}")
    return _to_float(s, name)


def _check_bins(bins) -> int:
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    return int(bins)


def _check_cuts(cuts) -> np.ndarray:
    c = np.asarray(cuts, dtype="float64")
    if c.ndim != 1:
        raise ValueError("cuts must be a 1-dimensional sequence")
    if not np.isfinite(c).all():
        raise ValueError("cuts must be finite")
    if c.size > 1 and not (np.diff(c) > 0).all():
        raise ValueError("cuts must be strictly increasing")
    return c


# --------------------------------------------------------------------------------------
# binning
# --------------------------------------------------------------------------------------


def sql_quantiles(v: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles, rounded exactly as DuckDB's quantile_cont rounds them.

    Position h = (n-1)*p, lo = v[floor h], hi = v[ceil h], d = h - floor h; DuckDB (1.5, as
    pinned) evaluates lo*(1-d) + hi*d with a rounding after each operation (tested against
    it on 2,700 quantiles of random and tied data: all equal). Mathematically this is
    np.quantile's default, but numpy rounds differently in the last bit, and a data value
    lying exactly on a cut point would then change bin; between two equal order statistics
    the result can even miss their value by an ulp, out of order, so the SQL macro takes
    quantile_disc (v[ceil(n*p) - 1]) where the result lies within 1e-12 of it, as here, and
    sorts. Emulating the warehouse's rounding
    keeps this reference bin-for-bin equal to the SQL macros on DuckDB. PostgreSQL's
    percentile_cont rounds lo + (hi-lo)*d: cut points can differ there in the last bit.
    """
    v = np.sort(v)
    cuts = []
    for p in probs:
        h = (v.size - 1) * float(p)
        lower = int(np.floor(h))
        d = h - lower
        lo, hi = float(v[lower]), float(v[int(np.ceil(h))])
        cut = lo * (1.0 - d) + hi * d
        disc = float(v[max(int(np.ceil(v.size * float(p))) - 1, 0)])  # quantile_disc's
        cuts.append(disc if abs(cut - disc) <= 1e-12 * abs(disc) else cut)
    return np.array(cuts, dtype="float64")


def equal_frequency_cuts(values, bins: int = 10) -> np.ndarray:
    """Internal cut points of ``bins`` equal-frequency bins of ``values`` (nulls dropped).

    The linear-interpolation quantiles at ``j/bins`` (j = 1..bins-1) restricted to the
    values strictly between min(v) and max(v), deduplicated and sorted (= pandas.qcut
    duplicates='drop'). Empty float array when there is no non-null value or no such
    quantile. See `sql_quantiles` for why this is not ``np.quantile``.
    """
    bins = _check_bins(bins)
    v = _numeric(values, "values")
    v = v[~np.isnan(v)]
    if v.size == 0 or bins == 1:
        return np.empty(0, dtype="float64")
    probs = np.array([j / bins for j in range(1, bins)], dtype="float64")
    q = sql_quantiles(v, probs)
    q = q[(q > v.min()) & (q < v.max())]
    return np.unique(q).astype("float64", copy=False)


def assign_bins(values, cuts) -> np.ndarray:
    """Bin index of every value: number of cuts strictly less than it; nulls get -1.

    Right-closed intervals ``(c[j-1], c[j]]`` with -inf/+inf outer edges.
    """
    c = _check_cuts(cuts)
    v = _numeric(values, "values")
    out = np.searchsorted(c, v, side="left").astype("int64")
    out[np.isnan(v)] = -1
    return out


def _categorical_codes(series: list[pd.Series]) -> tuple[list[np.ndarray], np.ndarray]:
    """Shared codes for the distinct values of one or more non-numeric Series (null -> -1)."""
    combined = pd.concat(series, ignore_index=True)
    try:
        codes, uniques = pd.factorize(combined, sort=True, use_na_sentinel=True)
    except TypeError:  # values that cannot be ordered (mixed types): first-seen order
        codes, uniques = pd.factorize(combined, sort=False, use_na_sentinel=True)
    codes = np.asarray(codes, dtype="int64")
    out, start = [], 0
    for s in series:
        out.append(codes[start : start + len(s)])
        start += len(s)
    return out, np.asarray(uniques, dtype=object)


def _bin_labels(n_bins: int, uniques: np.ndarray | None) -> np.ndarray:
    """Labels of bins 0..n_bins-1 followed by the null bin."""
    if uniques is None:
        return np.append(np.arange(n_bins, dtype="int64"), np.int64(-1))
    return np.append(uniques, np.array([None], dtype=object))


def _slot_counts(codes: np.ndarray, n_bins: int, weights=None) -> np.ndarray:
    """Counts per bin 0..n_bins-1, then the null bin (code -1) in the last position."""
    slots = np.where(codes < 0, n_bins, codes)
    return np.bincount(slots, weights=weights, minlength=n_bins + 1).astype("float64")


def _floor(share: np.ndarray) -> np.ndarray:
    return np.where(share == 0.0, EPSILON, share)


# --------------------------------------------------------------------------------------
# PSI
# --------------------------------------------------------------------------------------


def _bin_codes(series: list[pd.Series], names: list[str], numeric: bool, bins: int, cuts):
    """Bin codes of each series (cuts from the first, the reference, unless given; text:
    one bin per distinct value over all of them), the number of bins and their labels."""
    if numeric:
        values = [_to_float(s, name) for s, name in zip(series, names, strict=True)]
        cut_points = equal_frequency_cuts(values[0], bins) if cuts is None else _check_cuts(cuts)
        n_bins = cut_points.size + 1
        return [assign_bins(v, cut_points) for v in values], n_bins, _bin_labels(n_bins, None)
    if cuts is not None:
        raise ValueError("cuts only apply to numeric columns")
    codes, uniques = _categorical_codes(series)
    return codes, uniques.size, _bin_labels(uniques.size, uniques)


def psi_table(baseline, current, bins: int = 10, cuts=None) -> pd.DataFrame:
    """Per-bin PSI terms; ``psi`` is the sum of ``contribution``.

    Columns: bin (bin index, -1 = null bin; for non-numeric columns the value itself, a
    null label marking the null bin), baseline_share, current_share (both after the
    EPSILON floor), contribution. Only bins holding a row on at least one side are listed:
    bins 0..k in order, then the null bin.
    """
    bins = _check_bins(bins)
    base = _as_series(baseline, "baseline")
    cur = _as_series(current, "current")
    if len(base) == 0 or len(cur) == 0:
        raise ValueError("baseline and current must both hold at least one row")
    base_numeric = _is_numeric(base, "baseline")
    cur_numeric = _is_numeric(cur, "current")
    if base_numeric != cur_numeric:
        raise TypeError("baseline and current must both be numeric or both be non-numeric")

    (base_codes, cur_codes), n_bins, labels = _bin_codes(
        [base, cur], ["baseline", "current"], base_numeric, bins, cuts
    )

    base_counts = _slot_counts(base_codes, n_bins)
    cur_counts = _slot_counts(cur_codes, n_bins)
    keep = (base_counts > 0) | (cur_counts > 0)
    base_share = _floor(base_counts[keep] / len(base))
    cur_share = _floor(cur_counts[keep] / len(cur))
    contribution = (cur_share - base_share) * np.log(cur_share / base_share)
    return pd.DataFrame(
        {
            "bin": labels[keep],
            "baseline_share": base_share,
            "current_share": cur_share,
            "contribution": contribution,
        }
    )


def psi(baseline, current, bins: int = 10, cuts=None) -> float:
    """Population stability index of ``current`` against ``baseline`` (see module doc)."""
    table = psi_table(baseline, current, bins=bins, cuts=cuts)
    return float(np.sum(table["contribution"].to_numpy(dtype="float64")))


# --------------------------------------------------------------------------------------
# WOE / IV
# --------------------------------------------------------------------------------------


def _check_label(label, n_rows: int) -> np.ndarray:
    s = _as_series(label, "label")
    if len(s) != n_rows:
        raise ValueError(f"label has {len(s)} rows but values has {n_rows}")
    if s.isna().any():
        raise ValueError("label holds nulls")
    if pd.api.types.is_bool_dtype(s.dtype):
        y = s.to_numpy(dtype="float64")
    elif pd.api.types.is_numeric_dtype(s.dtype) or (
        pd.api.types.is_object_dtype(s.dtype)
        and pd.api.types.infer_dtype(s) in _NUMERIC_OBJECT_KINDS
    ):
        y = pd.to_numeric(s).to_numpy(dtype="float64")
    else:
        raise ValueError(f"label must hold only 0 and 1, got dtype {s.dtype}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("label must hold only 0 and 1")
    n_events = int(y.sum())
    if n_events == 0 or n_events == y.size:
        raise ValueError("label must hold both classes (0 and 1)")
    return y


def woe_table(values, label, bins: int = 10, cuts=None) -> pd.DataFrame:
    """Per-bin weight of evidence; ``iv`` is the sum of ``iv_contribution``.

    Columns: bin (bin index, -1 = null bin; for non-numeric columns the value itself, a
    null label marking the null bin), rows, events, nonevents, event_share, nonevent_share
    (both after the EPSILON floor), woe, iv_contribution. Only bins holding at least one
    row are listed: bins 0..k in order, then the null bin.
    """
    bins = _check_bins(bins)
    s = _as_series(values, "values")
    y = _check_label(label, len(s))
    (codes,), n_bins, labels = _bin_codes([s], ["values"], _is_numeric(s, "values"), bins, cuts)

    rows = _slot_counts(codes, n_bins)
    events = _slot_counts(codes, n_bins, weights=y)
    nonevents = rows - events
    keep = rows > 0
    rows, events, nonevents = rows[keep], events[keep], nonevents[keep]
    event_share = _floor(events / y.sum())
    nonevent_share = _floor(nonevents / (y.size - y.sum()))
    woe = np.log(event_share / nonevent_share)
    return pd.DataFrame(
        {
            "bin": labels[keep],
            "rows": rows.astype("int64"),
            "events": events.astype("int64"),
            "nonevents": nonevents.astype("int64"),
            "event_share": event_share,
            "nonevent_share": nonevent_share,
            "woe": woe,
            "iv_contribution": (event_share - nonevent_share) * woe,
        }
    )


def iv(values, label, bins: int = 10, cuts=None) -> float:
    """Information value of ``values`` for the 0/1 ``label`` (see module doc)."""
    table = woe_table(values, label, bins=bins, cuts=cuts)
    return float(np.sum(table["iv_contribution"].to_numpy(dtype="float64")))
