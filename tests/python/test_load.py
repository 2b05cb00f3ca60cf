"""`scorehouse load`: bad files get one clear line naming the file."""

from __future__ import annotations

import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.load import read_csv, snake_case


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"customerID,Churn\n", "a header but no data rows"),
        ("customerID,Churn\n1,Nein\u00e4\n".encode("latin-1"), "not UTF-8"),
        (b"a,b\n1,2,3\n", "unreadable CSV"),
        (b"Total Charges,total_charges\n1,2\n", "column names must be distinct"),
    ],
)
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(ScorehouseError, match=message) as exc:
        read_csv(path)
    assert str(path) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScorehouseError, match="no such file"):
        read_csv(tmp_path / "nope.csv")


def test_names_become_snake_case(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("customerID,SeniorCitizen,StreamingTV,Total Charges\nA-1,0,Yes, \n")
    table = read_csv(path)
    assert table.column_names == ["customer_id", "senior_citizen", "streaming_tv", "total_charges"]
    assert snake_case("IDNumber") == "id_number"


def test_unknown_source_table_is_named(warehouse, tmp_path, capsys):
    path = tmp_path / "in.csv"
    path.write_text("a\n1\n")
    assert warehouse.scorehouse("load", "ibm_telco.clients", str(path)) == 2
    err = capsys.readouterr().err
    assert "'ibm_telco.clients' is not a table of a dbt source" in err
    assert "ibm_telco.customers" in err
