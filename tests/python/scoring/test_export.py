"""`scorehouse export`: a model's scores of a month from ml.model_scores to CSV or parquet,
every scored id once, ranked and in deciles, with the reasons; bad suffixes and months
without scores refused in one line."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from python_scoring import contract

from ..conftest import query

pytestmark = pytest.mark.e2e

MODEL = "churn_lgbm"


def _export(warehouse, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = warehouse.scorehouse("export", "--model", MODEL, *args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def month(warehouse):
    ((latest,),) = query(
        warehouse, f"select max(score_month) from ml.model_scores where model_name = '{MODEL}'"
    )
    return latest


def test_export_writes_every_scored_id_once_ranked_in_deciles(warehouse, month, tmp_path, capsys):
    csv_file, parquet_file = tmp_path / "churn.csv", tmp_path / "churn.parquet"
    status, out, err = _export(warehouse, capsys, "--output", str(csv_file))
    assert status == 0, err
    ((rows, ids, version),) = query(
        warehouse,
        "select count(*), count(distinct entity_id), min(model_version) from ml.model_scores "
        f"where model_name = '{MODEL}' and score_month = '{month}'",
    )
    assert out.strip() == f"{MODEL}: {rows} scores of {month} (version {version}) -> {csv_file}"
    status, out, err = _export(
        warehouse, capsys, "--month", f"{month:%Y-%m}", "--output", str(parquet_file)
    )
    assert status == 0, err
    assert out.strip().endswith(f"-> {parquet_file}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn.csv", "churn.parquet"]

    table = pq.read_table(parquet_file)
    n_reasons = 3  # the registry's n_reasons of churn_lgbm
    assert table.column_names == [
        "subscriber_id",
        "score",
        "rank",
        "decile",
        *contract.reason_columns(n_reasons),
        "model_version",
        "score_month",
    ]
    csv_file.read_bytes().decode("utf-8")  # UTF-8
    # unquoted empty fields are nulls, quoted ones empty strings
    options = pa_csv.ConvertOptions(
        column_types=table.schema, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    read_back = pa_csv.read_csv(csv_file, convert_options=options)
    assert read_back.equals(table)

    frame = table.to_pandas()
    assert len(frame) == rows == ids  # every scored id, once
    assert frame["subscriber_id"].is_unique
    scored = {
        entity: score
        for entity, score in query(
            warehouse,
            "select entity_id, score from ml.model_scores "
            f"where model_name = '{MODEL}' and score_month = '{month}'",
        )
    }
    assert dict(zip(frame["subscriber_id"], frame["score"], strict=True)) == scored
    assert frame["rank"].tolist() == list(range(1, rows + 1))
    assert frame["score"].is_monotonic_decreasing
    assert sorted(frame["decile"].unique()) == list(range(1, 11))
    assert frame["decile"].is_monotonic_increasing
    sizes = frame["decile"].value_counts()
    assert sizes.max() - sizes.min() <= 1
    by_decile = frame.groupby("decile")["score"]
    assert by_decile.min()[1] >= by_decile.max()[2]  # the top decile holds the top scores
    assert set(frame["model_version"]) == {version}
    assert set(frame["score_month"]) == {month}
    # the reasons as ml.model_scores holds them
    ((with_reason, pushes),) = query(
        warehouse,
        "select count(reason_1), sum(reason_1_contribution) from ml.model_scores "
        f"where model_name = '{MODEL}' and score_month = '{month}'",
    )
    assert frame["reason_1"].notna().sum() == with_reason > 0
    assert frame["reason_1_contribution"].sum() == pytest.approx(pushes)
    assert frame["reason_1_value"].notna().sum() > 0


def test_export_refuses_a_bad_suffix_and_a_month_without_scores(warehouse, month, tmp_path, capsys):
    status, _, err = _export(warehouse, capsys, "--output", str(tmp_path / "scores.xlsx"))
    assert status == 2
    assert err.strip().splitlines() == [
        f"scorehouse: error: --output {tmp_path / 'scores.xlsx'}: export writes .csv or "
        ".parquet files, not '.xlsx'"
    ]
    status, _, err = _export(
        warehouse, capsys, "--month", "2020-01", "--output", str(tmp_path / "s.csv")
    )
    assert status == 2
    months = query(
        warehouse,
        f"select distinct score_month from ml.model_scores where model_name = '{MODEL}' order by 1",
    )
    assert month in [m for (m,) in months]
    assert err.strip().splitlines() == [
        f"scorehouse: error: model '{MODEL}' has no scores of 2020-01-01 in ml.model_scores "
        f"(scored months: {', '.join(str(m) for (m,) in months)})"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


def test_export_of_a_table_read_back_through_arrow_keeps_types(warehouse, month, tmp_path):
    """The parquet file's types: the contract's for the reasons, integers for rank and
    decile, a date for the month."""
    out = tmp_path / "scores.parquet"
    assert warehouse.scorehouse("export", "--model", MODEL, "--output", str(out)) == 0
    schema = pq.read_schema(out)
    assert schema.field("rank").type == pa.int64()
    assert schema.field("decile").type == pa.int32()
    assert schema.field("score_month").type == pa.date32()
    assert schema.field("reason_2_value").type == pa.string()
    assert schema.field("reason_2_contribution").type == pa.float64()
