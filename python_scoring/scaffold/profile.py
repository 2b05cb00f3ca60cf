"""What a user's table holds, column by column, as the scaffold needs it: the id and the
label checked, every other column typed (number, boolean, numbers held as text, text,
date) or left out with the reason, and columns that leak the label refused.

Booleans are recognised in the spellings files carry: Yes/No, Y/N, True/False, T/F, 1/0,
VRAI/FAUX, Oui/Non, Ja/Nein, Sí/No, 是/否 (any case; a column holding one or both values of
one pair). The label is 1 for its positive value: the one given (`--label Churn=Yes`), or
the true side of a boolean pair, or 1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from python_scoring.errors import ScorehouseError

log = logging.getLogger(__name__)

# (true, false) spellings, lower-cased
BOOLEAN_PAIRS = (
    ("yes", "no"),
    ("y", "n"),
    ("true", "false"),
    ("t", "f"),
    ("1", "0"),
    ("vrai", "faux"),
    ("oui", "non"),
    ("ja", "nein"),
    ("sí", "no"),
    ("si", "no"),
    ("是", "否"),
)
ACCEPTED_VALUES_MOST = 12  # text columns with at most this many values get a source test
# a text column with more distinct values than this share of the rows names things (an id,
# a phone number, a free text), it does not describe them: left out of the model
NAMING_SHARE = 0.2
SUSPICIOUS_AUC = 0.95  # a single column this predictive is logged as a possible leak


@dataclass
class Column:
    """One column of the user's table and what the staging model makes of it."""

    name: str  # as loaded (snake_case)
    kind: str  # id, label, month, number, boolean, boolean_text, number_text, text, date, left_out
    true_values: tuple[str, ...] = ()  # boolean_text / label: the values that mean 1
    false_values: tuple[str, ...] = ()
    values: tuple[str, ...] = ()  # text: its values, when few enough for a source test
    why: str = ""  # left_out: the reason


@dataclass
class Profile:
    rows: int
    positives: int
    columns: list[Column] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[Column]:
        return [c for c in self.columns if c.kind in kinds]


def _text_values(series: pd.Series) -> list[str]:
    return sorted({str(v) for v in series.dropna()})


def _boolean_sides(values: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(true values, false values) when every value is a spelling of one boolean pair."""
    lowered = {v.strip().lower() for v in values}
    for true, false in BOOLEAN_PAIRS:
        if values and lowered <= {true, false}:
            return (
                tuple(v for v in values if v.strip().lower() == true),
                tuple(v for v in values if v.strip().lower() == false),
            )
    return None


def _is_number_text(series: pd.Series) -> bool:
    """Text whose every non-blank value is a number (e.g. TotalCharges with blanks)."""
    text = series.dropna().astype(str).str.strip()
    text = text[text != ""]
    return bool(len(text)) and pd.to_numeric(text, errors="coerce").notna().all()


def label_values(series: pd.Series, column: str, positive: str | None) -> pd.Series:
    """The label as 0/1 (null where the file has none), refused when its positive value
    cannot be known or is not there."""
    values = _text_values(series)
    if pd.api.types.is_bool_dtype(series.dtype):
        truth = {"True"} if positive is None else {positive}
        if positive is not None and positive.lower() not in ("true", "false", "1", "0"):
            raise ScorehouseError(f"--label {column}={positive}: {column} holds True/False")
        if positive is not None and positive.lower() in ("false", "0"):
            truth = {"False"}
    elif positive is not None:
        matches = [v for v in values if v == positive or v.strip() == positive.strip()]
        if not matches and pd.api.types.is_numeric_dtype(series.dtype):
            matches = [v for v in values if float(v) == _float(positive, column)]
        if not matches and len(values) == 1:
            raise ScorehouseError(
                f"label {column} has a single class: every labelled row holds {values[0]!r}, "
                "a model needs both"
            )
        if not matches:
            raise ScorehouseError(
                f"--label {column}={positive}: {column} never holds {positive!r} "
                f"(its values: {', '.join(values[:10])})"
            )
        truth = set(matches)
    elif pd.api.types.is_numeric_dtype(series.dtype) and {float(v) for v in values} <= {0, 1}:
        truth = {v for v in values if float(v) == 1}  # 1/0, read as 1.0/0.0 beside nulls
    else:
        sides = _boolean_sides(values)
        if sides is None or len(values) > 2:
            raise ScorehouseError(
                f"--label {column}: say which value is positive, e.g. --label "
                f"{column}={values[-1] if values else 'VALUE'} (its values: "
                f"{', '.join(values[:10])}{', …' if len(values) > 10 else ''})"
            )
        truth = set(sides[0])
    labels = series.astype("string").map(lambda v: pd.NA if pd.isna(v) else int(str(v) in truth))
    return labels.astype("Int64")


def _float(text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ScorehouseError(f"--label {column}={text}: {column} holds numbers") from exc


def _leaks(series: pd.Series, y: pd.Series) -> float | None:
    """How well one column alone separates the label: AUC folded to >= 0.5 for numbers;
    1.0 for text whose every value holds a single class. None: not measurable."""
    from sklearn.metrics import roc_auc_score

    known = y.notna()
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        x = series[known].astype("float64")
        lowest = x.min() if x.notna().any() else 0.0
        x = x.fillna(lowest - 1)  # missing values rank below all others
        if x.nunique() < 2:
            return None
        auc = roc_auc_score(y[known].astype(int), x)
        return max(auc, 1 - auc)
    groups = pd.DataFrame({"v": series[known].astype("string").fillna("(null)"), "y": y[known]})
    rates = groups.groupby("v")["y"].mean()
    if len(rates) < 2:
        return None
    return 1.0 if rates.isin([0, 1]).all() else None


def profile(
    table: pa.Table,
    id_column: str,
    label_column: str,
    positive: str | None,
    month_column: str | None,
    exclude: list[str],
) -> tuple[Profile, pd.Series]:
    """Each column's kind; the label as 0/1 (returned too). Refused, in one line each: a
    named column the table does not have, an id that is null or repeats, a label of one
    class, a column that separates the label perfectly."""
    frame = table.to_pandas()
    named = [id_column, label_column, *([month_column] if month_column else []), *exclude]
    missing = [c for c in named if c not in frame.columns]
    if missing:
        raise ScorehouseError(
            f"column(s) {', '.join(missing)} not in the table (its columns: "
            f"{', '.join(frame.columns)}); names are snake_case, e.g. customerID -> customer_id"
        )
    ids = frame[id_column]
    if ids.isna().any():
        raise ScorehouseError(f"id column {id_column} is empty on {int(ids.isna().sum())} row(s)")
    keys = [id_column, month_column] if month_column else [id_column]
    repeated = frame[frame.duplicated(keys, keep=False)][keys]
    if len(repeated):
        per = f" and {month_column}" if month_column else ""
        raise ScorehouseError(
            f"id column {id_column}{per} is not unique: {len(repeated)} rows share "
            f"{repeated.drop_duplicates().shape[0]} value(s), e.g. "
            f"{', '.join(map(str, repeated[id_column].head(3)))} (pass --row-id to number "
            f"the rows instead)"
        )
    y = label_values(frame[label_column], label_column, positive)
    known = y.dropna()
    positives = int(known.sum())
    if known.nunique() < 2:
        raise ScorehouseError(
            f"label {label_column} has a single class ({positives} positive of {len(known)} "
            f"labelled rows): a model needs both"
        )
    result = Profile(rows=len(frame), positives=positives)
    suspicious = []
    for name in frame.columns:
        series = frame[name]
        if name == id_column:
            result.columns.append(Column(name, "id"))
        elif name == label_column:
            true, false = _label_sides(series, y)
            text = not pd.api.types.is_numeric_dtype(series.dtype)  # bool is numeric
            shown = (
                (*true, *false) if text and len(true) + len(false) <= ACCEPTED_VALUES_MOST else ()
            )
            result.columns.append(Column(name, "label", true, false, values=shown))
        elif name == month_column:
            result.columns.append(Column(name, "month"))
        elif name in exclude:
            result.columns.append(Column(name, "left_out", why="--exclude"))
        else:
            column = _typed(name, series, len(frame))
            if column.kind != "left_out":
                strength = _leaks(series, y)
                if strength is not None and strength >= 1 - 1e-12:
                    raise ScorehouseError(
                        f"column {name} separates label {label_column} perfectly: it leaks the "
                        f"label (known only with it); pass --exclude {name}"
                    )
                if strength is not None and strength >= SUSPICIOUS_AUC:
                    suspicious.append(f"{name} (AUC {strength:.3f})")
            result.columns.append(column)
    if suspicious:
        log.warning(
            "column(s) %s alone predict the label almost perfectly: check they are known "
            "before the label is (else --exclude them)",
            ", ".join(suspicious),
        )
    return result, y


def _label_sides(series: pd.Series, y: pd.Series) -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = series.astype("string")
    true = tuple(sorted({str(v) for v in text[y == 1].dropna()}))
    false = tuple(sorted({str(v) for v in text[y == 0].dropna()}))
    return true, false


def _typed(name: str, series: pd.Series, rows: int) -> Column:
    if series.isna().all():
        return Column(name, "left_out", why="empty on every row")
    if pd.api.types.is_bool_dtype(series.dtype):
        return Column(name, "boolean")
    if pd.api.types.is_numeric_dtype(series.dtype):
        if series.nunique() < 2:
            return Column(name, "left_out", why="one value on every row")
        return Column(name, "number")
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or not (
        pd.api.types.is_string_dtype(series.dtype) or pd.api.types.is_object_dtype(series.dtype)
    ):
        return Column(name, "date")
    values = _text_values(series)
    if len(values) < 2:
        return Column(name, "left_out", why="one value on every row")
    sides = _boolean_sides(values)
    if sides is not None:
        return Column(name, "boolean_text", sides[0], sides[1])
    if _is_number_text(series):
        return Column(name, "number_text")
    if len(values) > max(50, NAMING_SHARE * rows):
        return Column(
            name, "left_out", why=f"{len(values)} distinct texts in {rows} rows: names, not traits"
        )
    quotable = all("'" not in v and "\\" not in v for v in values)
    shown = tuple(values) if len(values) <= ACCEPTED_VALUES_MOST and quotable else ()
    return Column(name, "text", values=shown)


def with_row_id(table: pa.Table, start: int = 1, column: str = "row_id") -> pa.Table:
    """The table with a first column numbering its rows from `start` (file order)."""
    if column in table.column_names:
        raise ScorehouseError(f"--row-id: the table already has a column {column}")
    ids = pa.array(np.arange(start, start + table.num_rows, dtype="int64"))
    return table.add_column(0, column, ids)


def months_of(series: pd.Series) -> pd.Series:
    """A month column as the first days of its months (what macro month_start computes):
    dates, timestamps, 'YYYY-MM[-DD...]' or YYYYMM. Refused when a value is none of them."""
    text = series.astype("string").str.strip()
    six = text.str.fullmatch(r"[0-9]{6}").fillna(False)
    text = text.where(~six, text.str[:4] + "-" + text.str[4:6])
    months = pd.to_datetime(text.str[:7] + "-01", format="%Y-%m-%d", errors="coerce")
    bad = months.isna() & series.notna()
    if bad.any():
        raise ScorehouseError(
            f"--month {series.name}: {series[bad].iloc[0]!r} is not a month (YYYY-MM, "
            "YYYY-MM-DD or YYYYMM)"
        )
    return months


def label_lag(months: pd.Series, y: pd.Series) -> int:
    """Months between the latest labelled month and the latest month: what the registry's
    label_lag_months must be for the latest month to be scored."""
    latest, labelled = months.max(), months[y.notna()].max()
    return (latest.year - labelled.year) * 12 + latest.month - labelled.month
