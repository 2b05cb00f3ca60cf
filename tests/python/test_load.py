"""`scorehouse load`'s reading and naming (python_scoring.files, python_scoring.load): bad
files get one clear line naming the file; workbooks, GBK and UTF-16 text, headerless
files and Chinese headers are read. The whole command on a warehouse:
tests/python/faults/test_file_faults.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pandas as pd
import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.files import ReadOptions, read_file
from python_scoring.load import SourceTable, column_name, escaped, read_table, snake_case
from python_scoring.project import Relation

from .conftest import make_warehouse

SOURCE = SourceTable(
    "bank.people",
    Relation(None, "raw", "people"),
    ("customer_id", "age", "deposit_balance"),
    {"客户编号": "customer_id", "年龄": "age", "存款余额": "deposit_balance"},
    "models/people.yml",
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (b"customerID,Churn\n", "a header but no data rows"),
        ("customerID,Churn\n1,Nein\u00e4\n".encode("latin-1"), "not UTF-8"),
        (b"a,b\n1,2,3\n", "unreadable CSV"),
        (b"Total Charges,total_charges\n1,2\n", "column names must be distinct"),
        (b"a,,b\n1,2,3\n", "column(s) 2 have no usable name"),
    ],
)
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(ScorehouseError, match=re.escape(message)) as exc:
        read_table(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert "\n" not in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScorehouseError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_names_become_snake_case(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("customerID,SeniorCitizen,StreamingTV,Total Charges\nA-1,0,Yes, \n")
    table = read_table(path)
    assert table.column_names == ["customer_id", "senior_citizen", "streaming_tv", "total_charges"]
    assert snake_case("IDNumber") == "id_number"


@pytest.mark.parametrize(
    ("typed", "delimiter"), [(",", ","), (";", ";"), ("\\t", "\t"), ("\t", "\t"), ("tab", "\t")]
)
def test_delimiters_as_typed(typed, delimiter):
    assert ReadOptions(delimiter=typed).delimiter == delimiter


@pytest.mark.parametrize("typed", [";;", "", "\\|", '"', "\n", "；"])
def test_a_delimiter_of_more_than_one_character_is_refused(typed):
    with pytest.raises(ScorehouseError, match="--delimiter must be one ASCII character"):
        ReadOptions(delimiter=typed)


def test_an_unknown_encoding_is_refused():
    with pytest.raises(ScorehouseError, match="'gbk2000' is not an encoding Python knows"):
        ReadOptions(encoding="gbk2000")
    assert ReadOptions(encoding="GBK").encoding == "gbk"


def test_chinese_headers_are_mapped_and_others_escaped():
    assert column_name(" 存款余额 ", SOURCE.zh) == "deposit_balance"
    assert column_name("\ufeff客户编号", SOURCE.zh) == "customer_id"
    assert column_name("Total Charges", SOURCE.zh) == "total_charges"
    assert column_name("备注", SOURCE.zh) == escaped("备注") == "u5907_u6ce8"
    assert escaped("余额(元)") == "u4f59_u989d_u5143"
    assert escaped("余额2") == "u4f59_u989d_2"


def test_gbk_text_with_chinese_headers(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("客户编号,年龄,存款余额,备注\nR1,35,100.5,老客户\n".encode("gbk"))
    raw = read_file(path)
    assert (raw.encoding, raw.describe()) == ("gb18030", "GB18030")
    table = read_table(path, source=SOURCE)
    assert table.column_names == ["customer_id", "age", "deposit_balance", "u5907_u6ce8"]
    assert table.to_pylist() == [
        {"customer_id": "R1", "age": 35, "deposit_balance": 100.5, "u5907_u6ce8": "老客户"}
    ]


def test_text_in_another_legacy_encoding_is_not_taken_for_chinese(tmp_path):
    """latin-1 bytes decode as GB18030 too (into rare characters): refused, not loaded
    mis-decoded; with --encoding they are read."""
    path = tmp_path / "in.csv"
    path.write_bytes("name,city\nMüller,Zürich\nBäcker,Möhlin\n".encode("latin-1"))
    with pytest.raises(ScorehouseError, match="nor GBK/GB18030 Chinese; pass its encoding"):
        read_table(path)
    table = read_table(path, ReadOptions(encoding="latin-1"))
    assert table.column("city").to_pylist() == ["Zürich", "Möhlin"]


def test_utf16_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("客户编号\t年龄\nR1\t35\n".encode("utf-16"))
    source = dataclasses.replace(SOURCE, columns=("customer_id", "age"))
    table = read_table(path, ReadOptions(delimiter="\\t"), source)
    assert table.to_pylist() == [{"customer_id": "R1", "age": 35}]


def test_headerless_files_take_the_declared_columns(tmp_path):
    path = tmp_path / "people.del"
    path.write_text('"R1",35,100.5\n"R2",,0\n')
    table = read_table(path, source=SOURCE)
    assert table.column_names == list(SOURCE.columns) and table.num_rows == 2
    with pytest.raises(ScorehouseError, match="there is no dbt source"):
        read_table(path)
    path.write_text('"R1",35\n')
    with pytest.raises(ScorehouseError, match="2 fields per row but bank.people declares 3"):
        read_table(path, source=SOURCE)
    # a .del that has a header after all: its first row names the declared columns
    path.write_text("客户编号,年龄,存款余额\nR1,35,1\n")
    assert read_table(path, source=SOURCE).num_rows == 1


def test_workbooks(tmp_path):
    path = tmp_path / "book.xlsx"
    frame = pd.DataFrame(
        {
            "客户编号": ["R1", "R2"],
            "年龄": [35, 36],
            "存款余额": [100.5, None],
            "开户日期": [dt.date(2020, 1, 31), dt.date(2021, 2, 1)],
            "flag": [True, False],
        }
    )
    with pd.ExcelWriter(path, engine="xlsxwriter", date_format="yyyy-mm-dd") as writer:
        pd.DataFrame({"说明": ["readme"]}).to_excel(writer, sheet_name="说明", index=False)
        frame.to_excel(writer, sheet_name="Data", index=False)
    raw = read_file(path)
    assert (raw.kind, raw.sheet, raw.table.column_names) == ("workbook", "说明", ["说明"])
    table = read_table(path, ReadOptions(sheet="Data"), SOURCE)
    assert table.column_names == [
        "customer_id",
        "age",
        "deposit_balance",
        "u5f00_u6237_u65e5_u671f",
        "flag",
    ]
    assert table.to_pylist()[0] == {
        "customer_id": "R1",
        "age": 35,
        "deposit_balance": 100.5,
        "u5f00_u6237_u65e5_u671f": dt.date(2020, 1, 31),
        "flag": True,
    }
    with pytest.raises(ScorehouseError, match=r"no sheet 'Sheet1'; its sheets: 说明, Data"):
        read_file(path, ReadOptions(sheet="Sheet1"))
    renamed = tmp_path / "book.csv"  # a workbook saved under a .csv name
    renamed.write_bytes(path.read_bytes())
    assert read_file(renamed, ReadOptions(sheet="Data")).kind == "workbook"


def test_unknown_source_table_is_named(tmp_path, capsys):
    built = make_warehouse(tmp_path)
    path = tmp_path / "in.csv"
    path.write_text("a\n1\n")
    assert built.scorehouse("load", "ibm_telco.clients", str(path)) == 2
    err = capsys.readouterr().err
    assert "'ibm_telco.clients' is not a table of a dbt source" in err
    assert "ibm_telco.customers" in err
