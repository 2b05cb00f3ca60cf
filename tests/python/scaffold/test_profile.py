"""The scaffold's profile of a table (python_scoring/scaffold/profile.py), without a
warehouse: what each column becomes, and what is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.scaffold.profile import label_lag, months_of, profile, with_row_id


def _table(n: int = 300, seed: int = 5, **extra) -> pa.Table:
    rng = np.random.default_rng(seed)
    churn = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "tenure": rng.integers(1, 72, n),
            "churn": np.where(churn, "Yes", "No"),
            **{k: v(rng, n, churn) for k, v in extra.items()},
        }
    )
    return pa.Table.from_pandas(frame, preserve_index=False)


def _kinds(table: pa.Table, label: str = "churn=Yes") -> dict[str, str]:
    column, _, positive = label.partition("=")
    found, _ = profile(table, "customer_id", column, positive or None, None, [])
    return {c.name: c.kind for c in found.columns}


@pytest.mark.parametrize(
    ("true", "false"),
    [("Yes", "No"), ("VRAI", "FAUX"), ("oui", "non"), ("是", "否"), ("T", "F"), ("Y", "N")],
)
def test_boolean_spellings_become_boolean_text(true, false):
    table = _table(flag=lambda rng, n, c: rng.choice([true, false], n))
    assert _kinds(table)["flag"] == "boolean_text"


def test_numbers_held_as_text_with_blanks_are_numbers_and_names_are_left_out():
    table = _table(
        total=lambda rng, n, c: np.where(
            rng.random(n) < 0.05, " ", rng.random(n).round(2).astype(str)
        ),
        surname=lambda rng, n, c: [f"name{i}" for i in rng.integers(0, 10_000, n)],
        plan=lambda rng, n, c: rng.choice(["basic", "plus", "max"], n),
        constant=lambda rng, n, c: ["same"] * n,
    )
    found, _ = profile(table, "customer_id", "churn", "Yes", None, [])
    by_name = {c.name: c for c in found.columns}
    assert by_name["total"].kind == "number_text"
    assert by_name["surname"].kind == "left_out" and "names, not traits" in by_name["surname"].why
    assert by_name["plan"].kind == "text" and by_name["plan"].values == ("basic", "max", "plus")
    assert by_name["constant"].kind == "left_out"
    assert found.positives == int(pa.compute.sum(pa.compute.equal(table["churn"], "Yes")).as_py())


def test_a_column_that_copies_the_label_is_refused_and_a_strong_one_is_kept(caplog):
    leaking = _table(flag=lambda rng, n, c: np.where(c, 1, 0) * 3 + 1)
    with pytest.raises(ScorehouseError, match="column flag separates label churn perfectly"):
        _kinds(leaking)
    strong = _table(score=lambda rng, n, c: np.where(c, 1.0, 0.0) + rng.normal(0, 0.3, n))
    assert _kinds(strong)["score"] == "number"
    assert "almost perfectly" in caplog.text


def test_the_label_needs_its_positive_value_unless_it_is_boolean_or_0_1():
    table = _table(status=lambda rng, n, c: np.where(c, "left", "stayed"))
    with pytest.raises(ScorehouseError, match=r"say which value is positive.*status=stayed"):
        profile(table, "customer_id", "status", None, None, ["churn"])
    _, y = profile(table, "customer_id", "churn", None, None, ["status"])  # Yes/No: inferred
    assert y.tolist() == [int(v == "Yes") for v in table["churn"].to_pylist()]
    zero_one = _table(left=lambda rng, n, c: c.astype(int))
    found, y = profile(zero_one, "customer_id", "left", None, None, ["churn"])
    assert y.tolist() == zero_one["left"].to_pylist()
    with pytest.raises(ScorehouseError, match="never holds 'Maybe'"):
        _kinds(table, label="churn=Maybe")


def test_row_ids_continue_across_files_and_months_give_the_label_lag():
    table = with_row_id(_table(10), start=11)
    assert table.column("row_id").to_pylist() == list(range(11, 21))
    months = months_of(pd.Series(["2025-01", "202502", "2025-03-17", None], name="m"))
    assert [str(m.date()) if not pd.isna(m) else None for m in months] == [
        "2025-01-01",
        "2025-02-01",
        "2025-03-01",
        None,
    ]
    labels = pd.Series([1, 0, pd.NA, pd.NA], dtype="Int64")
    assert label_lag(months, labels) == 1
    with pytest.raises(ScorehouseError, match="'2025/13' is not a month"):
        months_of(pd.Series(["2025/13"], name="m"))
