"""Small batches without pandas and scikit-learn overhead: a fitted pipeline's transform
compiled to numpy, for the online service's requests of a row or a few.

Transforming rows through the fitted pipeline costs ~8 ms per call whatever their number
(per-column checks and frames in pandas and scikit-learn); the same arithmetic on numpy
arrays costs a tenth of a millisecond. `compile_rows` reads a fitted pipeline
(features/pipeline.py `build_pipeline`, `build_blend`) into a `RowTransform`: what
`features.pipeline.model_frames` returns as `scored_table` reads it, the columns before
encoding (whose values a reason shows as text) and the estimator's input. A step it does
not know makes it return None. It is never trusted: `verified_rows` compares it with the
pipeline on sample rows (values bit for bit, column names, reason value texts, the
estimator's scores) and discards it with a warning naming the step that differs. At call
time it declines (None) a batch with values it was not written for (a column type, an
infinite number); the caller then runs the pipeline, which casts or refuses them."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from python_scoring.features.blend import BLEND_MISSING, mark_missing
from python_scoring.features.pipeline import check_input_types, model_frames, trained_kinds
from python_scoring.features.reasons import encoded_sources
from python_scoring.features.transformers import (
    InformationValueScreen,
    PairwiseFeatures,
    WoeEncoder,
)
from python_scoring.features.transformers.pairwise import _apply
from python_scoring.warehouse import to_pandas

log = logging.getLogger(__name__)
SINGLE_ROWS = 8  # sample rows also checked one by one (one row's column types differ)
# the estimator's scores of the two inputs (same values, other column types) may differ
# by rounding only: a forest adds its trees' votes in the order its threads finish
SCORE_TOLERANCE = 1e-12

# one fitted transformer: its input columns (1-d arrays) -> its output columns
Stage = Callable[[list[np.ndarray]], list[np.ndarray]]


class _Unsupported(Exception):
    """A step the compiler does not know (its message names it)."""


class _Decline(Exception):
    """Values the compiled transform was not written for: the pipeline takes the batch."""


class Columns(dict):
    """Named 1-d arrays, read as scored_table reads the frame they stand for."""

    @property
    def columns(self):
        return self.keys()


class RowTransform:
    """A fitted pipeline's `model_frames` in numpy (see the module doc)."""

    def __init__(self, pipeline, inputs, derived, parts, names) -> None:
        self.pipeline = pipeline
        self.inputs = inputs  # [(column, "numeric" | "text")] in check_input_types' order
        self.at = pd.Index([name for name, _ in inputs])
        self.derived = derived  # {operation: (names, lefts, rights)}
        self.parts = parts  # [(step, its input columns, Stage, its number of outputs)]
        self.names = pd.Index(names)  # the estimator's columns
        self._groups = None  # (schema, number groups): _number_groups

    def __call__(
        self, frame: pd.DataFrame | pa.Table | Rows
    ) -> tuple[Columns, pd.DataFrame] | None:
        """The rows (a pandas frame, an Arrow table of the scoring input's types, or a
        request's Rows) before encoding and as the estimator sees them, or None."""
        n = len(frame)
        try:
            if isinstance(frame, Rows):
                data, before = self._row_inputs(frame)
            elif isinstance(frame, pa.Table):
                data, before = self._arrow_inputs(frame)
            else:
                data, before = self._inputs(frame)
            for op, (names, lefts, rights) in self.derived.items():
                left = np.array([data[c] for c in lefts], dtype=np.float64)
                right = np.array([data[c] for c in rights], dtype=np.float64)
                for name, values in zip(names, _apply(op, left, right), strict=True):
                    data[name] = before[name] = values
            columns = [
                c for _, cols, stage, _ in self.parts for c in stage([data[n] for n in cols])
            ]
        except _Decline:
            return None
        # pandas stores a float frame as this (columns x rows) block: no copy
        values = np.array(columns, dtype=np.float64).reshape(len(columns), n).T
        index = frame.index if isinstance(frame, pd.DataFrame) else pd.RangeIndex(n)
        return before, pd.DataFrame(values, index=index, columns=self.names, copy=False)

    def _inputs(self, frame: pd.DataFrame) -> tuple[dict[str, Any], Columns]:
        """The input columns as check_input_types leaves them: numbers (numpy integers,
        booleans, float64) and text (pandas' str dtype) as they are; other types through
        check_input_types itself (booleans with nulls become float, a column of nulls the
        trained type; it refuses the others as it does in the pipeline)."""
        if not frame.columns.is_unique or len(frame) == 0:
            raise _Decline
        positions = frame.columns.get_indexer(self.at)
        if (positions < 0).any():
            raise _Decline  # the pipeline says which column is missing
        data, before = {}, Columns()
        for (name, kind), i in zip(self.inputs, positions, strict=True):
            values = _column(frame, i)
            if not _plain(values, kind):
                values = _column(check_input_types(self.pipeline, frame.iloc[:, [i]]), 0)
                if not _plain(values, kind):
                    raise _Decline
            before[name] = values
            data[name] = values if kind == "numeric" else np.asarray(values, dtype=object)
        return data, before

    def _arrow_inputs(self, table: pa.Table) -> tuple[dict[str, Any], Columns]:
        """The input columns of an Arrow table as warehouse.to_pandas and then
        check_input_types leave them (a request skips pandas: ~1 ms a call); types whose
        conversion is not that plain decline (the caller converts to pandas)."""
        by_name = dict(zip(table.column_names, table.columns, strict=True))
        if table.num_rows == 0 or len(by_name) != table.num_columns:
            raise _Decline
        data, before = {}, Columns()
        for name, kind in self.inputs:
            if name not in by_name:
                raise _Decline
            before[name] = values = _arrow_values(by_name[name], kind)
            data[name] = values
        return data, before

    def _row_inputs(self, rows: Rows) -> tuple[dict[str, Any], Columns]:
        """A request's values straight into the arrays _arrow_inputs makes of the same
        rows converted to Arrow (no Arrow, no pandas: ~0.1 ms instead of ~0.7); values
        whose conversion to the column's Arrow type is not that plain decline (the caller
        converts the rows to Arrow, which casts them or says what is wrong)."""
        groups = self._number_groups(rows.schema, rows.types)
        if not rows.rows or groups is None:
            raise _Decline
        numbers = _number_columns(rows.rows, groups)
        data, before = {}, Columns()
        for name, kind in self.inputs:
            values = numbers.get(name)
            if values is None:
                values = _json_values(rows.column(name), kind, rows.types[name])
            before[name] = data[name] = values
        return data, before

    def _number_groups(self, schema: pa.Schema, types: dict[str, pa.DataType]):
        """The float64 and integer inputs by numpy type (None: an input the schema lacks),
        kept for the last schema seen (the service's rows all have their model's)."""
        if self._groups is not None and self._groups[0] is schema:
            return self._groups[1]
        groups: dict[Any, list[str]] | None = {}
        for name, kind in self.inputs:
            kind_of = types.get(name)
            if kind_of is None:
                groups = None
                break
            if kind == "numeric" and (pa.types.is_float64(kind_of) or pa.types.is_integer(kind_of)):
                groups.setdefault(kind_of.to_pandas_dtype(), []).append(name)
        self._groups = (schema, groups)
        return groups

    def step_of(self, position: int) -> str:
        """The step that makes the estimator's column at `position`."""
        for step, _, _, width in self.parts:
            if position < width:
                return step
            position -= width
        raise IndexError(position)


def _column(frame: pd.DataFrame, i: int):
    """Column i's values as pandas holds them (ndarray or ExtensionArray): pandas' own
    accessor takes ~0.5 us, a Series per column (frame[name]) ~9 us."""
    get = getattr(frame, "_get_column_array", None)
    if get is not None:
        return get(i)
    values = frame.iloc[:, i].array
    return values.to_numpy() if isinstance(values, pd.arrays.NumpyExtensionArray) else values


class Rows:
    """A request's rows (validated JSON objects: every feature present, numbers, text,
    booleans or null) typed by the scoring input's Arrow schema, unconverted: the
    RowTransform reads them as they are; `to_arrow` converts them as the scoring input
    is typed (every other reader)."""

    def __init__(
        self, rows: list[dict[str, Any]], schema: pa.Schema, entity_id: str | None = None
    ) -> None:
        self.rows, self.schema, self.entity_id = rows, schema, entity_id
        self.types = {f.name: f.type for f in schema if f.name != entity_id}

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        return [row[name] for row in self.rows]

    def ids(self) -> list[str]:
        """Each row's id as text; a row without one is named by its position."""
        return [
            str(i) if v is None else str(v)
            for i, v in enumerate(row.get(self.entity_id) for row in self.rows)
        ]

    def to_arrow(self) -> pa.Table:
        """The rows with the scoring input's column types (ValueError naming the column
        a value does not fit), the id as text."""
        features = pa.schema([f for f in self.schema if f.name != self.entity_id])
        try:
            if any(pa.types.is_decimal(t) for t in self.types.values()):
                raise pa.ArrowInvalid("decimal columns: converted one by one")
            table = pa.Table.from_pylist(self.rows, schema=features)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, OverflowError):
            table = pa.table({f.name: self._array(f) for f in features})
        if self.entity_id is None:
            return table
        return table.append_column(
            pa.field(self.entity_id, pa.string()), pa.array(self.ids(), pa.string())
        )

    def _array(self, field: pa.Field) -> pa.Array:
        values = self.column(field.name)
        if pa.types.is_decimal(field.type):
            values = [None if v is None else Decimal(str(v)) for v in values]
        elif pa.types.is_floating(field.type):
            values = [None if v is None else float(v) for v in values]
        try:
            return pa.array(values, field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{field.name}: not a {field.type} value ({exc})") from None


def _number_columns(rows: list[dict[str, Any]], groups) -> dict[str, np.ndarray]:
    """The float64 and integer columns as _json_values gives them, one numpy call per
    numpy type (`groups`: its columns) instead of one per column (a row's 40 numbers:
    ~10 us instead of ~100); a type with a value that does not convert plainly (a null in
    an integer column, a number out of its range) is left out, for _json_values."""
    out = {}
    for dtype, names in groups.items():
        try:  # None -> NaN as float64; a TypeError as an integer
            matrix = np.array([[row[n] for n in names] for row in rows], dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            continue
        out.update(zip(names, np.ascontiguousarray(matrix.T), strict=True))
    return out


def _json_values(values: list[Any], kind: str, kind_of: pa.DataType) -> np.ndarray:
    """JSON values of a column as _arrow_values gives them once Rows.to_arrow has typed
    them: float64 with NaN for null (numbers), integers in the column's numpy type (or
    float64 with NaN when one is null), booleans without nulls, text as objects with
    NaN for null."""
    try:
        if kind == "numeric":
            if pa.types.is_float64(kind_of):
                return np.array(values, dtype=np.float64)  # None -> NaN
            if pa.types.is_integer(kind_of):
                if None not in values:  # OverflowError beyond the column's type
                    return np.array(values, dtype=kind_of.to_pandas_dtype())
                np.array([v for v in values if v is not None], dtype=kind_of.to_pandas_dtype())
                return np.array(values, dtype=np.float64)
            if pa.types.is_boolean(kind_of) and None not in values:
                return np.array(values, dtype=bool)
        elif pa.types.is_string(kind_of) and all(v is None or type(v) is str for v in values):
            return np.array([np.nan if v is None else v for v in values], dtype=object)
    except (TypeError, ValueError, OverflowError):
        pass  # not a value of the column's type: to_arrow says which
    raise _Decline


def _arrow_values(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    """An Arrow column as to_pandas converts it, for the types `_plain` accepts: numbers
    as numpy (decimals cast to float64 as warehouse.to_pandas casts them; integers with
    nulls as float64 with NaN), booleans without nulls, text as objects with NaN for a
    null (pandas' str array's values)."""
    kind_of = column.type
    if kind == "numeric":
        if pa.types.is_decimal(kind_of):
            column = column.cast(pa.float64())
        elif not (
            pa.types.is_integer(kind_of)
            or pa.types.is_float64(kind_of)
            or (pa.types.is_boolean(kind_of) and column.null_count == 0)
        ):
            raise _Decline
        return column.to_numpy()
    if not pa.types.is_string(kind_of):
        raise _Decline
    values = column.to_numpy()
    if column.null_count:
        values[pc.is_null(column).to_numpy()] = np.nan
    return values


def _plain(values, kind: str) -> bool:
    """Types check_input_types leaves alone and the stages below are written for."""
    dtype = values.dtype
    if kind == "numeric":  # float32 would make scikit-learn compute in float32
        return isinstance(dtype, np.dtype) and (dtype.kind in "biu" or dtype == np.float64)
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan


# ------------------------------------------------------------------------------------
# compiling
# ------------------------------------------------------------------------------------


def compile_rows(pipeline: Any) -> RowTransform | None:
    """The pipeline's transform as a RowTransform; None (logged) when a step is unknown."""
    try:
        return _compile(pipeline)
    except _Unsupported as exc:
        log.info("row path: %s not compiled: small batches go through the pipeline", exc)
        return None


def _compile(pipeline: Any) -> RowTransform:
    steps = [
        (n, s) for n, s in getattr(pipeline, "steps", [])[:-1] if not hasattr(s, "fit_resample")
    ]
    if not steps or steps[-1][0] != "prep" or type(steps[-1][1]) is not ColumnTransformer:
        raise _Unsupported("a pipeline without a final ColumnTransformer 'prep'")
    derived: dict[str, tuple[list[str], list[str], list[str]]] = {}
    derives = 0
    for name, step in steps[:-1]:
        if type(step) is InformationValueScreen:
            continue  # a selection of columns: the compiled steps read theirs by name
        derives += 1
        if type(step) is not PairwiseFeatures or derives > 1:
            raise _Unsupported(f"step {name} ({type(step).__name__})")
        for d in step.derived_:  # grouped by operation: one _apply per operation
            names, lefts, rights = derived.setdefault(d["op"], ([], [], []))
            names.append(d["name"])
            lefts.append(d["left"])
            rights.append(d["right"])
    names_derived = {c for names, _, _ in derived.values() for c in names}
    kinds = trained_kinds(pipeline)
    prep = steps[-1][1]
    if prep.transformer_weights or getattr(prep, "sparse_output_", False):
        raise _Unsupported("prep with weights or sparse output")
    parts = []
    for name, step, columns in prep.transformers_:
        columns = _selected(prep, columns)
        if step == "drop" or not columns:
            continue  # dropped, or left unfitted without columns
        label = f"prep/{name} ({type(step).__name__ if not isinstance(step, str) else step})"
        unknown = [c for c in columns if c not in kinds and c not in names_derived]
        if unknown:
            raise _Unsupported(f"{label} on columns of no trained type ({unknown[:3]})")
        into = ["numeric" if c in names_derived else kinds[c] for c in columns]
        stage, out = _stage(step, into, label)
        if any(k != "numeric" for k in out):
            raise _Unsupported(f"{label} returning text")
        parts.append((label, columns, stage, len(out)))
    names = list(prep.get_feature_names_out())
    if sum(width for *_, width in parts) != len(names):
        raise _Unsupported("prep: outputs not counted as the pipeline counts them")
    used = {c for _, cols, _, _ in parts for c in cols} | {
        c for _, lefts, rights in derived.values() for c in (*lefts, *rights)
    }
    missing = used - set(kinds) - names_derived
    if missing:
        raise _Unsupported(f"derive on columns of no trained type ({sorted(missing)[:3]})")
    inputs = [(c, k) for c, k in kinds.items() if c in used and c not in names_derived]
    return RowTransform(pipeline, inputs, derived, parts, names)


def _selected(prep: ColumnTransformer, columns) -> list[str]:
    """A fitted ColumnTransformer's column selection as names."""
    if isinstance(columns, str | int | slice) or callable(columns):
        raise _Unsupported(f"prep column selection {columns!r}")
    picked = np.asarray(columns)
    if picked.size and (picked.dtype == bool or picked.dtype.kind in "iu"):
        picked = np.asarray(prep.feature_names_in_)[picked]
    return [str(c) for c in picked]


def _stage(step: Any, kinds: list[str], label: str) -> tuple[Stage, list[str]]:
    """One fitted transformer compiled: its Stage and the kinds of its outputs."""
    numeric = all(k == "numeric" for k in kinds)
    text = all(k == "text" for k in kinds)
    kind = type(step)
    if step in ("passthrough", None):
        return _same, kinds
    if kind is Pipeline:
        stages = []
        for _, sub in step.steps:
            stage, kinds = _stage(sub, kinds, label)
            stages.append(stage)
        return _chain(stages), kinds
    if kind is FunctionTransformer and not step.validate and not step.kw_args:
        if step.func is None:  # "passthrough", fitted
            return _same, kinds
        if step.func is mark_missing and numeric:
            return _mark_missing, kinds
    if kind is SimpleImputer and (numeric or text):
        return _imputer(step, text)
    if kind is StandardScaler and numeric:
        return _scaler(step), kinds
    if kind in (OrdinalEncoder, OneHotEncoder) and text:
        return _encoder(step, label)
    if kind is WoeEncoder:
        return _woe(step), ["numeric"] * len(kinds)
    raise _Unsupported(f"{label}: {kind.__name__}")


def _same(columns: list[np.ndarray]) -> list[np.ndarray]:
    return columns


def _chain(stages: list[Stage]) -> Stage:
    def run(columns):
        for stage in stages:
            columns = stage(columns)
        return columns

    return run


def _mark_missing(columns):
    """features/blend.py mark_missing: float, a missing value as BLEND_MISSING."""
    out = []
    for values in columns:
        values = np.asarray(values, dtype=np.float64)
        out.append(np.where(np.isnan(values), BLEND_MISSING, values))
    return out


def _imputer(step: SimpleImputer, text: bool) -> tuple[Stage, list[str]]:
    """SimpleImputer: a missing value (NaN: scikit-learn's mask for missing_values=nan
    is x != x, also on text) becomes the column's statistic; without
    keep_empty_features a column without statistic is dropped; the missing indicators
    (columns with missing values in fit) follow, 1.0 / 0.0."""
    if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
        raise _Unsupported(f"SimpleImputer(missing_values={step.missing_values!r})")
    statistics = step.statistics_
    kept = list(range(len(statistics)))
    if not text and not step.keep_empty_features:
        kept = [j for j in kept if not np.isnan(statistics[j])]
    flagged = list(step.indicator_.features_) if step.add_indicator else []

    def run(columns):
        if text:
            filled = [
                np.array([v if v == v else statistics[j] for v in columns[j]], dtype=object)
                for j in kept
            ]
            return filled + [np.array([v != v for v in columns[j]]) for j in flagged]
        values = [np.asarray(c, dtype=np.float64) for c in columns]
        missing = [np.isnan(v) for v in values]
        filled = [np.where(missing[j], statistics[j], values[j]) for j in kept]
        return filled + [missing[j] for j in flagged]

    return run, ["text" if text else "numeric"] * len(kept) + ["numeric"] * len(flagged)


def _scaler(step: StandardScaler) -> Stage:
    """StandardScaler: (x - mean) / scale, as its in-place X -= mean_; X /= scale_."""
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None

    def run(columns):
        values = np.array(columns, dtype=np.float64).reshape(len(columns), -1)
        if mean is not None:
            values = values - mean[:, None]
        if scale is not None:
            values = values / scale[:, None]
        return list(values)

    return run


def _encoder(step: OrdinalEncoder | OneHotEncoder, label: str) -> tuple[Stage, list[str]]:
    """Ordinal and one-hot encoding as the fitted encoder itself encodes, per column,
    each category, an unseen one and a missing value (asked once, here); infrequent
    categories, dropped ones and unseen ones fall out of the encoder's own answers."""
    if type(step) is OneHotEncoder:
        if step.sparse_output or step.handle_unknown not in ("ignore", "infrequent_if_exist"):
            raise _Unsupported(f"{label}: sparse or unknown categories refused")
        widths = list(getattr(step, "_n_features_outs", []))
    else:
        if step.handle_unknown != "use_encoded_value":
            raise _Unsupported(f"{label}: unknown categories refused")
        widths = [1] * len(step.categories_)
    inputs = list(getattr(step, "feature_names_in_", []))
    if len(widths) != len(step.categories_) or len(inputs) != len(widths):
        raise _Unsupported(f"{label}: outputs per column unknown")
    tables, start = [], 0
    for j, (categories, width) in enumerate(zip(step.categories_, widths, strict=True)):
        known = [c for c in categories if isinstance(c, str)]
        if any(not isinstance(c, str) and c == c for c in categories):
            raise _Unsupported(f"{label}: categories that are not text")
        unseen = "\0unseen"
        while unseen in known:
            unseen += "\0"
        asked = [*known, unseen, np.nan]
        probe = pd.DataFrame(
            {
                c: asked if k == j else [step.categories_[k][0]] * len(asked)
                for k, c in enumerate(inputs)
            },
            dtype=object,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unseen and missing categories, on purpose
            answers = np.asarray(step.transform(probe), dtype=np.float64)
        block = answers[:, start : start + width]
        start += width
        tables.append(({c: block[i] for i, c in enumerate(known)}, block[-2], block[-1], width))
    if start != answers.shape[1]:
        raise _Unsupported(f"{label}: outputs per column unknown")

    def run(columns):
        out = []
        for values, (table, unseen_row, missing_row, width) in zip(columns, tables, strict=True):
            rows = [table.get(v, unseen_row) if isinstance(v, str) else missing_row for v in values]
            out.extend(np.array(rows, dtype=np.float64).reshape(len(values), width).T)
        return out

    return run, ["numeric"] * start


def _woe(step: WoeEncoder) -> Stage:
    """WoeEncoder.transform: numbers binned (stats.assign_bins: the number of cut points
    strictly below the value, a null its own bin) and text looked up by value, each with
    the weight of evidence of its bin (0.0 for a bin fit never saw)."""
    columns = [str(c) for c in step.feature_names_in_]
    binned = [j for j, c in enumerate(columns) if c in step.cuts_]
    looked_up = [
        (j, step.woe_[c], step.woe_[c].get(None, 0.0))
        for j, c in enumerate(columns)
        if j not in binned
    ]
    width = max((step.cuts_[columns[j]].size for j in binned), default=0)
    cuts = np.full((len(binned), width), np.inf)  # +inf: never below a value
    table = np.zeros((len(binned), width + 2))  # bins 0..width, then the null bin
    for row, j in enumerate(binned):
        points, woe = step.cuts_[columns[j]], step.woe_[columns[j]]
        cuts[row, : points.size] = points
        table[row, : points.size + 1] = [woe.get(b, 0.0) for b in range(points.size + 1)]
        table[row, -1] = woe.get(None, 0.0)

    def run(inputs):
        out: list[Any] = [None] * len(inputs)
        if binned:
            if any(inputs[j].dtype == bool for j in binned):
                raise _Decline  # assign_bins refuses booleans
            values = np.array([inputs[j] for j in binned], dtype=np.float64).reshape(
                len(binned), -1
            )
            if np.isinf(values).any():
                raise _Decline  # assign_bins refuses infinite values
            bins = (values[:, :, None] > cuts[:, None, :]).sum(axis=2)
            bins[np.isnan(values)] = width + 1
            out_binned = np.take_along_axis(table, bins, axis=1)
            for row, j in enumerate(binned):
                out[j] = out_binned[row]
        for j, woe, null in looked_up:
            out[j] = np.array(
                [woe.get(v, 0.0) if v == v else null for v in inputs[j]], dtype=np.float64
            )
        return out

    return run


# ------------------------------------------------------------------------------------
# verifying
# ------------------------------------------------------------------------------------


def verified_rows(pipeline: Any, sample: pd.DataFrame | pa.Table) -> RowTransform | None:
    """The pipeline's compiled transform once it gives what the pipeline gives on the
    sample (rows of the scoring input with the model's features, as scored_table
    transforms them: the whole sample, and its first SINGLE_ROWS rows one by one; an
    Arrow sample both as it is and converted by warehouse.to_pandas); None when it cannot
    be compiled or differs (a warning names the step)."""
    rows = compile_rows(pipeline)
    if rows is None:
        return None
    problem = check(rows, pipeline, sample)
    if problem is not None:
        log.warning("row path discarded, %s: small batches go through the pipeline", problem)
        return None
    log.info("row path agrees with the pipeline on %d sample rows", len(sample))
    return rows


def check(rows: RowTransform, pipeline: Any, sample: pd.DataFrame | pa.Table) -> str | None:
    """None when `rows` transforms the sample as the pipeline does, else what differs:
    the estimator's columns (names, values bit for bit, NaN for NaN), the text of every
    value a reason may show, and the estimator's scores."""
    if not len(sample):
        return "no sample rows to check it on"
    prep = pipeline.named_steps["prep"]
    sources = {s for s in encoded_sources(prep, list(rows.names)) if s is not None}
    derived = {c for names, _, _ in rows.derived.values() for c in names}
    model = pipeline.steps[-1][1]
    parts = [sample, *(sample[i : i + 1] for i in range(min(SINGLE_ROWS, len(sample))))]
    # (what `rows` is given, the same rows in pandas for the pipeline)
    cases = [(part, part) for part in parts]
    if isinstance(sample, pa.Table):
        # to_pandas consumes the table object it converts: a new one on the same buffers
        cases = [(part, to_pandas(part.slice(0))) for part in parts]
        arrow = cases[:]
        cases += [(frame, frame) for _, frame in arrow]
        # and as a request's rows (JSON values: Arrow's Python values of the same rows)
        cases += [(Rows(part.to_pylist(), part.schema), frame) for part, frame in arrow]
    for n, (given, frame) in enumerate(cases):
        got = rows(given)
        if got is None:
            if given is frame and len(given) == len(sample):  # the sample in pandas
                types = [f"{c}: {t}" for c, t in frame.dtypes.items()]
                return f"it declines the sample's columns ({', '.join(types)})"
            # rows of another type (e.g. a boolean with a null, before pandas makes it a
            # float): what they are converted to next is checked here too
            continue
        (before, transformed), (want_before, want) = got, model_frames(pipeline, frame)
        where = "the sample" if n % len(parts) == 0 else f"sample row {n % len(parts) - 1} alone"
        where += {pa.Table: " (Arrow)", Rows: " (request rows)"}.get(type(given), "")
        for name in sorted(sources & set(want_before.columns)):
            step = "derive (PairwiseFeatures)" if name in derived else "check_input_types"
            if name not in before or not _text(before[name]).equals(_text(want_before[name])):
                return f"step {step}: the value text of {name} differs on {where}"
        if list(transformed.columns) != list(want.columns):
            return f"prep: the estimator's columns differ on {where}"
        a, b = transformed.to_numpy(), want.to_numpy(dtype=np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            i, j = np.argwhere(~same)[0]
            return (
                f"step {rows.step_of(j)}: {rows.names[j]} is {a[i, j]!r} instead of "
                f"{b[i, j]!r} on {where}"
            )
        worst = np.max(np.abs(model.predict_proba(transformed) - model.predict_proba(want)))
        if not worst <= SCORE_TOLERANCE:
            return f"the estimator's scores of its input differ by {worst:.3g} on {where}"
    return None


def _text(values) -> pa.Array:
    """A column's values as a reason shows them (scoring.task._reason_values)."""
    return pc.cast(pa.array(values, from_pandas=True), pa.string())
