"""Reading text files without being told how (python_scoring.files, python_scoring.load):
the delimiter detected among `,` `;` tab `|`, a `;` file's decimal commas read as
numbers, a file read with the wrong --delimiter refused rather than loaded as one column.
Through `scorehouse load` on a warehouse: tests/python/faults/test_file_faults.py."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.files import ReadOptions, detect_delimiter, read_file
from python_scoring.load import load_baskets, read_raw, read_table


def write(tmp_path: Path, text: str, name: str = "in.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


FRENCH = "id;montant;actif;note\nA;1,5;VRAI;x,y\nB;-0,25;FAUX;\nC;12;VRAI;z\n"


def test_a_semicolon_file_with_decimal_commas(tmp_path):
    path = write(tmp_path, FRENCH)
    table, raw = read_raw(path)
    assert table.column_names == ["id", "montant", "actif", "note"]
    assert table.schema.field("montant").type == pa.float64()
    assert table.column("montant").to_pylist() == [1.5, -0.25, 12.0]
    assert table.column("actif").to_pylist() == ["VRAI", "FAUX", "VRAI"]  # text, untouched
    assert table.column("note").to_pylist() == ["x,y", "", "z"]  # a comma, but not a number
    assert table.column("id").to_pylist() == ["A", "B", "C"]
    assert (raw.kind, raw.delimiter, raw.detected, raw.encoding) == ("text", ";", True, "utf-8")
    assert raw.decimal_commas == ["montant"]
    assert raw.describe() == "delimited by ';'"
    assert raw.table.column_names == ["id", "montant", "actif", "note"]  # the file's own names


def test_decimal_commas_with_an_explicit_delimiter_and_gbk(tmp_path):
    path = write(tmp_path, "客户;余额\nR1;1.234,5\nR2;\nR3;NA\nR4;-7\n", encoding="gbk")
    table, raw = read_raw(path, ReadOptions(delimiter=";"))
    assert table.column("u4f59_u989d").to_pylist() == [1234.5, None, None, -7.0]
    assert (raw.delimiter, raw.detected) == (";", False)
    assert raw.describe() == "GB18030, delimited by ';'"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1,5", "abc"], ["1,5", "abc"]),  # not all numbers: text
        (["1.5", "2,5"], ["1.5", "2,5"]),  # '.' is no decimal point in a decimal-comma file
        (["1,5", "1,2,3"], ["1,5", "1,2,3"]),
        (["1,5", " "], [1.5, None]),  # blank
        (["1.234", "2.000"], [1.234, 2.0]),  # no comma anywhere: as the CSV reader typed it
    ],
)
def test_which_columns_are_decimal_comma_numbers(tmp_path, values, expected):
    path = write(tmp_path, "id;v\n" + "".join(f"{i};{v}\n" for i, v in enumerate(values)))
    assert read_table(path).column("v").to_pylist() == expected


def test_decimal_commas_only_in_semicolon_files(tmp_path):
    path = write(tmp_path, 'id,v\n1,"1,5"\n2,"2,25"\n')
    assert read_table(path).column("v").to_pylist() == ["1,5", "2,25"]
    path = write(tmp_path, "id\tv\n1\t1,5\n2\t2,25\n")
    assert read_table(path).column("v").to_pylist() == ["1,5", "2,25"]


@pytest.mark.parametrize(
    ("delimiter", "shown"), [("\t", "delimited by '\\t'"), ("|", "delimited by '|'")]
)
def test_tab_and_pipe_files_are_detected(tmp_path, delimiter, shown):
    rows = [["customerID", "Monthly Charges", "Churn"], ["A-1", "29.85", "No"], ["B-2", "", "Yes"]]
    path = write(tmp_path, "".join(delimiter.join(r) + "\n" for r in rows), "in.txt")
    table, raw = read_raw(path)
    assert table.column_names == ["customer_id", "monthly_charges", "churn"]
    assert table.column("monthly_charges").to_pylist() == [29.85, None]
    assert table.column("churn").to_pylist() == ["No", "Yes"]
    assert (raw.delimiter, raw.detected, raw.describe()) == (delimiter, True, shown)


def test_a_comma_file_with_semicolons_in_quoted_fields_stays_a_comma_file(tmp_path):
    path = write(tmp_path, 'id,note,n\n1,"a;b",2\n2,"c;d;e",3\n3,"f|g\th",4\n')
    table, raw = read_raw(path)
    assert (raw.delimiter, raw.describe()) == (",", "")
    assert table.column("note").to_pylist() == ["a;b", "c;d;e", "f|g\th"]
    assert table.column("n").to_pylist() == [2, 3, 4]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a;b;c\n1,5;2,5;x\n", ";"),  # two decimal commas a row: more comma fields than header
        ("a;b\n1,5;2\n3,25;4\n", ";"),
        ("a,b\n1;2,3\n", ","),
        ("a\n1\n2\n", ","),  # one column: nothing fits, ','
        ("a,b\n1,2,3\n", ","),  # ragged: nothing fits, ',' (refused when read)
        ('a|b\n"x|y"|2\n\n3|4\n', "|"),  # blank lines ignored
        ("a;b\r\n1;2\r\n", ";"),
    ],
)
def test_detect_delimiter(text, expected):
    assert detect_delimiter(text.encode()) == expected


def test_detection_ignores_a_record_cut_at_the_end_of_the_sample():
    """Records longer than the sample allows 50 of: the last one may end inside a quoted
    field beyond the sample (split into fewer fields): it is not counted."""
    for pad in range(1500, 2100, 37):  # cut at a line inside quotes for some pads
        row = f'{{}};"{"a" * pad}\n{"b" * 30}, c";{{}}\n'
        text = "id;text;n\n" + "".join(row.format(i, i) for i in range(60))
        assert detect_delimiter(text.encode()) == ";", pad


def test_an_explicit_wrong_delimiter_is_refused(tmp_path):
    path = write(tmp_path, "customerID;Churn;MonthlyCharges\nA-1;Yes;29.85\n")
    assert read_table(path).column_names == ["customer_id", "churn", "monthly_charges"]
    with pytest.raises(ScorehouseError) as exc:
        read_table(path, ReadOptions(delimiter=","))
    assert str(exc.value) == (
        f"{path}: one column, 'customerID;Churn;MonthlyCharges'; it looks delimited by ';': "
        "pass --delimiter ';'"
    )
    path.write_text("customerID;Churn;MonthlyCharges\nA-1;Yes;29,85\n")  # 2 comma fields
    with pytest.raises(ScorehouseError) as exc:
        read_table(path, ReadOptions(delimiter=","))
    assert str(exc.value) == (
        f"{path}: unreadable CSV: CSV parse error: Expected 1 columns, got 2: A-1;Yes;29,85; "
        "it looks delimited by ';': pass --delimiter ';'"
    )
    comma = write(tmp_path, "customerID,Churn\nA-1,Yes\n", "comma.csv")
    with pytest.raises(ScorehouseError, match=re.escape("pass --delimiter ','")) as exc:
        read_file(comma, ReadOptions(delimiter="|"))
    assert str(exc.value).startswith(f"{comma}: one column, 'customerID,Churn'")


def test_a_one_column_file_without_a_delimiter_in_its_header_loads(tmp_path):
    path = write(tmp_path, "customerID\nA-1;B\nC|D\n")
    table, raw = read_raw(path)
    assert table.column_names == ["customer_id"]
    assert table.column("customer_id").to_pylist() == ["A-1;B", "C|D"]
    assert raw.delimiter == ","


def test_workbooks_have_no_delimiter(tmp_path):
    import pandas as pd

    path = tmp_path / "book.xlsx"
    pd.DataFrame({"a;b": ["1,5"], "c": [2.5]}).to_excel(path, index=False)
    table, raw = read_raw(path, ReadOptions(delimiter=";"))
    assert (raw.kind, raw.delimiter, raw.describe()) == ("workbook", None, "sheet 'Sheet1'")
    assert table.to_pylist() == [{"a_b": "1,5", "c": 2.5}]


def test_baskets_stay_comma_separated(tmp_path):
    """Lines of different lengths: no detection, ','; a `;` in an item stays in it."""
    path = write(tmp_path, "milk,bread\neggs\nbeer;lager,milk,chips\n")
    replaced = []
    project = SimpleNamespace(source_tables=lambda source: {"basket_items": "bank.basket_items"})
    wh = SimpleNamespace(replace_tables=replaced.extend)
    assert load_baskets(project, wh, path, ReadOptions()) == 6
    ((relation, data),) = replaced
    assert relation == "bank.basket_items"
    assert [(r["basket_id"], r["item"]) for r in data.to_pylist()] == [
        ("1", "milk"),
        ("1", "bread"),
        ("2", "eggs"),
        ("3", "beer;lager"),
        ("3", "milk"),
        ("3", "chips"),
    ]
