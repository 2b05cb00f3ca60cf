"""Files as users have them, through `scorehouse load` (the bank file jobs read their inputs
the same way, python_scoring.load):

- every bad file or file option ends with exit 2 and one line `scorehouse: error: ...`
  (no traceback) and the table loaded before is left exactly as it was (rows, columns);
- a workbook, a GBK file, Chinese headers, a headerless DB2 `.del` export, a TSV or a UTF-16
  "Unicode text" export load the very table the UTF-8 CSV loads; so do `;`, tab and `|`
  files without --delimiter (detected), and a `;` file's decimal commas load as numbers;
- the line printed says the rows, the column count and names, and how the file was read.

Before this suite: a semicolon file or another table's file replaced the good table (exit
0), a workbook printed zip bytes, a GBK Chinese header gave a traceback or "(an empty
name)", `--delimiter '\\t'` and `;;` a traceback.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from python_scoring.synthetic.bank import BankConfig, write_csv_files

from ..conftest import REPO, Built, make_warehouse, query, query_frame

TELCO_CSV = REPO.parent / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv"
TELCO = "ibm_telco.customers"
RETAIL = "bank.retail_customers"
CORPORATE = "bank.corporate_monthly"
TABLES = (TELCO, RETAIL, CORPORATE)
ORDER = {TELCO: "customer_id", RETAIL: "customer_id", CORPORATE: "customer_id, month"}


def chinese_headers(table: str) -> dict[str, str]:
    """column -> the bank team's header, from the sources YAML (the one table of them)."""
    sources = yaml.safe_load((REPO / "models/staging/bank/_bank__sources.yml").read_text())
    (bank,) = sources["sources"]
    (spec,) = [t for t in bank["tables"] if t["name"] == table.split(".")[1]]
    return {c["name"]: c["meta"]["zh"] for c in spec["columns"]}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Built:
    """A warehouse holding the IBM Telco file and two generated bank files, each loaded
    from its UTF-8 CSV: the reference every other form of the same data must match."""
    assert TELCO_CSV.is_file(), f"{TELCO_CSV} is missing (CI has ../shared beside the clone)"
    root = tmp_path_factory.mktemp("file_faults")
    built = make_warehouse(root / "warehouse")
    write_csv_files(BankConfig(n_corporate=100, n_retail=300, n_months=2), root / "bank")
    built.csv = {
        TELCO: TELCO_CSV,
        RETAIL: root / "bank" / "retail_customers.csv",
        CORPORATE: root / "bank" / "corporate_monthly.csv",
    }
    for table in TABLES:
        assert built.scorehouse("load", table, str(built.csv[table])) == 0
    built.reference = {table: contents(built, table) for table in TABLES}
    return built


def relation(built: Built, table: str) -> str:
    return built.project().source(*table.split(".")).sql


def contents(built: Built, table: str) -> pd.DataFrame:
    return query_frame(built, f"select * from {relation(built, table)} order by {ORDER[table]}")


def shape(built: Built, table: str) -> tuple[int, list[str]]:
    source = built.project().source(*table.split("."))
    ((rows,),) = query(built, f"select count(*) from {source.sql}")
    columns = query(
        built,
        "select column_name from information_schema.columns where table_schema = "
        f"'{source.schema}' and table_name = '{source.identifier}' order by ordinal_position",
    )
    return rows, [c for (c,) in columns]


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("scorehouse: error: "), lines[0]
    return lines[0]


# ---- files written by the tests ---------------------------------------------------------------
def text_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_text(path: Path, rows: list[list[str]], delimiter: str = ",", encoding="utf-8") -> Path:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """An .xlsx as Excel users have them: numbers as numbers, dates as date cells."""
    with pd.ExcelWriter(
        path, engine="xlsxwriter", date_format="yyyy-mm-dd", datetime_format="yyyy-mm-dd"
    ) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def telco_frame() -> pd.DataFrame:
    return pd.read_csv(TELCO_CSV, keep_default_na=False)  # ' ' TotalCharges stay text


def bank_frame(built: Built, table: str, chinese: bool = False) -> pd.DataFrame:
    dates = {RETAIL: ["data_date"], CORPORATE: ["month", "account_open_date"]}[table]
    frame = pd.read_csv(built.csv[table], parse_dates=dates)
    for column in dates:  # date cells, as the bank's workbooks hold them
        frame[column] = frame[column].dt.date
    return frame.rename(columns=chinese_headers(table)) if chinese else frame


def with_chinese_headers(built: Built, table: str) -> list[list[str]]:
    rows = text_rows(built.csv[table])
    zh = chinese_headers(table)
    return [[zh[name] for name in rows[0]], *rows[1:]]


# ---- bad files and options: one line, exit 2, the previous table intact ------------------------
Case = Callable[[Built, Path], tuple[str, Path, list[str]]]  # -> table, file, extra args


def semicolons_read_with_commas(built, tmp):
    rows = text_rows(TELCO_CSV)
    return TELCO, write_text(tmp / "telco.csv", rows, ";"), ["--delimiter", ","]


def tabs_read_with_commas(built, tmp):
    return TELCO, write_text(tmp / "telco.txt", text_rows(TELCO_CSV), "\t"), ["--delimiter", ","]


def commas_read_with_semicolons(built, tmp):
    return TELCO, TELCO_CSV, ["--delimiter", ";"]


def another_tables_file(built, tmp):
    return TELCO, built.csv[RETAIL], []


def two_character_delimiter(built, tmp):
    return TELCO, TELCO_CSV, ["--delimiter", ";;"]


def empty_delimiter(built, tmp):
    return TELCO, TELCO_CSV, ["--delimiter", ""]


def empty_file(built, tmp):
    (tmp / "empty.csv").write_bytes(b"")
    return TELCO, tmp / "empty.csv", []


def blank_lines(built, tmp):
    (tmp / "blank.csv").write_bytes(b"\n\r\n\n")
    return TELCO, tmp / "blank.csv", []


def header_only(built, tmp):
    return TELCO, write_text(tmp / "header.csv", text_rows(TELCO_CSV)[:1]), []


def missing_file(built, tmp):
    return TELCO, tmp / "no-such-file.csv", []


def a_directory(built, tmp):
    return TELCO, tmp, []


def latin1(built, tmp):
    rows = [["customerID", "Churn", "City"], ["A-1", "No", "Zürich"], ["A-2", "Nein", "Möhlin"]]
    return TELCO, write_text(tmp / "latin1.csv", rows, encoding="latin-1"), []


def gbk_read_as_utf8(built, tmp):
    rows = with_chinese_headers(built, RETAIL)
    return RETAIL, write_text(tmp / "gbk.csv", rows, encoding="gbk"), ["--encoding", "utf-8"]


def unknown_encoding(built, tmp):
    return TELCO, TELCO_CSV, ["--encoding", "gbk2000"]


def unmapped_chinese_headers(built, tmp):
    rows = [["客户号", "是否流失"], ["A-1", "是"]]
    return TELCO, write_text(tmp / "gbk.csv", rows, encoding="gbk"), []


def a_misspelt_chinese_header(built, tmp):
    rows = with_chinese_headers(built, RETAIL)
    rows[0] = ["年令" if h == "年龄" else h for h in rows[0]]
    return RETAIL, write_text(tmp / "retail.csv", rows, encoding="gbk"), []


def headerless_telco(built, tmp):
    return TELCO, write_text(tmp / "telco.del", text_rows(TELCO_CSV)[1:]), []


def no_header_option(built, tmp):
    return RETAIL, TELCO_CSV, ["--no-header"]


def del_one_column_short(built, tmp):
    rows = [row[:-1] for row in text_rows(built.csv[RETAIL])[1:]]
    return RETAIL, write_text(tmp / "retail.del", rows), []


def duplicate_names(built, tmp):
    rows = [["customerID", "Churn", "Total Charges", "total_charges"], ["A-1", "No", "1", "2"]]
    return TELCO, write_text(tmp / "dup.csv", rows), []


def a_nameless_column(built, tmp):
    return (
        TELCO,
        write_text(tmp / "nameless.csv", [["customerID", "Churn", "--"], ["1", "No", "x"]]),
        [],
    )


def ragged_rows(built, tmp):
    return TELCO, write_text(tmp / "ragged.csv", [["customerID", "Churn"], ["1", "No", "x"]]), []


def unknown_sheet(built, tmp):
    book = write_workbook(
        tmp / "telco.xlsx", {"说明": pd.DataFrame({"a": [1]}), "Data": telco_frame()}
    )
    return TELCO, book, ["--sheet", "Customers"]


def corrupt_workbook(built, tmp):
    (tmp / "telco.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    return TELCO, tmp / "telco.xlsx", []


def empty_sheet(built, tmp):
    return TELCO, write_workbook(tmp / "empty.xlsx", {"Sheet1": pd.DataFrame()}), []


def header_only_sheet(built, tmp):
    frame = telco_frame().iloc[:0]
    return TELCO, write_workbook(tmp / "header.xlsx", {"Sheet1": frame}), []


def unknown_source_table(built, tmp):
    return "ibm_telco.clients", TELCO_CSV, []


BAD = {
    # case: (what the line must say; True: it names the file)
    semicolons_read_with_commas: (
        "one column, 'customerID;gender;SeniorCitizen;Partner;Dependents;tenure;Ph'; it "
        "looks delimited by ';': pass --delimiter ';'",
        True,
    ),
    tabs_read_with_commas: ("it looks delimited by '\\t': pass --delimiter '\\t'", True),
    commas_read_with_semicolons: (
        "one column, 'customerID,gender,SeniorCitizen,Partner,Dependents,tenure,Ph'; it "
        "looks delimited by ',': pass --delimiter ','",
        True,
    ),
    another_tables_file: (
        "missing column(s) senior_citizen, partner, dependents, churn that ibm_telco.customers",
        True,
    ),
    two_character_delimiter: ("--delimiter must be one ASCII character", False),
    empty_delimiter: ("--delimiter must be one ASCII character", False),
    empty_file: ("the file is empty", True),
    blank_lines: ("the file is empty", True),
    header_only: ("a header but no data rows", True),
    missing_file: ("no such file", True),
    a_directory: ("a directory, not a file", True),
    latin1: ("not UTF-8 text (byte 30: b'\\xfcr'), nor GBK/GB18030 Chinese; pass its", True),
    gbk_read_as_utf8: ("not utf-8 text (byte 0:", True),
    unknown_encoding: ("--encoding 'gbk2000' is not an encoding Python knows", False),
    unmapped_chinese_headers: ("header(s) 客户号, 是否流失 have no English name", True),
    a_misspelt_chinese_header: ("missing column(s) age that bank.retail_customers", True),
    headerless_telco: ("21 fields per row but ibm_telco.customers declares 6 columns", True),
    no_header_option: ("21 fields per row but bank.retail_customers declares 42", True),
    del_one_column_short: ("41 fields per row but bank.retail_customers declares 42", True),
    duplicate_names: ("column names must be distinct in snake_case (total_charges", True),
    a_nameless_column: ("column(s) 3 have no usable name in the header row ('--')", True),
    ragged_rows: ("unreadable CSV", True),
    unknown_sheet: ("no sheet 'Customers'; its sheets: 说明, Data (pass one with --sheet)", True),
    corrupt_workbook: ("not a readable workbook", True),
    empty_sheet: ("sheet 'Sheet1' is empty", True),
    header_only_sheet: ("a header but no data rows", True),
    unknown_source_table: ("'ibm_telco.clients' is not a table of a dbt source", False),
}


@pytest.mark.parametrize("case", list(BAD), ids=[c.__name__ for c in BAD])
def test_a_bad_file_is_one_line_and_the_table_stays(loaded, tmp_path, capsys, case):
    table, path, args = case(loaded, tmp_path)
    before = {t: shape(loaded, t) for t in TABLES}
    capsys.readouterr()
    assert loaded.scorehouse("load", table, str(path), *args) == 2
    line = one_line_error(capsys.readouterr().err)
    expected, names_the_file = BAD[case]
    assert expected in line
    if names_the_file:
        assert f"error: {path}" in line
    assert {t: shape(loaded, t) for t in TABLES} == before


# ---- the same table from every form of the file ------------------------------------------------
def telco_workbook(built, tmp):
    return TELCO, write_workbook(tmp / "telco.xlsx", {"Sheet1": telco_frame()}), []


def telco_workbook_named_csv(built, tmp):
    return TELCO, write_workbook(tmp / "telco.csv", {"Sheet1": telco_frame()}), []


def telco_second_sheet(built, tmp):
    sheets = {"说明": pd.DataFrame({"字段": ["customerID"]}), "数据": telco_frame()}
    return TELCO, write_workbook(tmp / "telco.xlsx", sheets), ["--sheet", "数据"]


def telco_tabs(built, tmp):
    path = write_text(tmp / "telco.tsv", text_rows(TELCO_CSV), "\t")
    return TELCO, path, ["--delimiter", "\\t"]  # typed as two characters


def telco_semicolons(built, tmp):
    return TELCO, write_text(tmp / "telco.csv", text_rows(TELCO_CSV), ";"), ["--delimiter", ";"]


def telco_semicolons_detected(built, tmp):
    return TELCO, write_text(tmp / "telco.csv", text_rows(TELCO_CSV), ";"), []


def telco_tabs_detected(built, tmp):
    return TELCO, write_text(tmp / "telco.tsv", text_rows(TELCO_CSV), "\t"), []


def telco_pipes_detected(built, tmp):
    return TELCO, write_text(tmp / "telco.txt", text_rows(TELCO_CSV), "|"), []


def telco_utf16_tabs_detected(built, tmp):
    return TELCO, write_text(tmp / "telco.txt", text_rows(TELCO_CSV), "\t", "utf-16"), []


def telco_utf8_bom(built, tmp):
    (tmp / "telco.csv").write_bytes(b"\xef\xbb\xbf" + TELCO_CSV.read_bytes())
    return TELCO, tmp / "telco.csv", []


def telco_utf16_unicode_text(built, tmp):
    """Excel's "Unicode text": UTF-16 with a byte-order mark, tab-delimited."""
    return (
        TELCO,
        write_text(tmp / "telco.txt", text_rows(TELCO_CSV), "\t", "utf-16"),
        ["--delimiter", "tab"],
    )


def telco_headed_del(built, tmp):
    return TELCO, write_text(tmp / "telco.del", text_rows(TELCO_CSV)), []


def retail_gbk_chinese_headers(built, tmp):
    path = write_text(tmp / "retail.csv", with_chinese_headers(built, RETAIL), encoding="gbk")
    return RETAIL, path, []


def retail_gb18030_given(built, tmp):
    rows = with_chinese_headers(built, RETAIL)
    path = write_text(tmp / "retail.csv", rows, encoding="gb18030")
    return RETAIL, path, ["--encoding", "gb18030"]


def retail_utf8_chinese_headers(built, tmp):
    return RETAIL, write_text(tmp / "retail.csv", with_chinese_headers(built, RETAIL)), []


def retail_del(built, tmp):
    """DB2's DEL: no header, character fields in double quotes, numbers bare, columns in
    the order of the data structure (the source's declared order); GBK, as the bank's DB2
    writes it."""

    def field(value: str) -> str:
        if value == "" or re.fullmatch(r"-?\d+(\.\d+)?", value):
            return value
        return '"' + value.replace('"', '""') + '"'

    rows = text_rows(built.csv[RETAIL])[1:]
    text = "".join(",".join(map(field, row)) + "\r\n" for row in rows)
    (tmp / "RETAIL.DEL").write_bytes(text.encode("gbk"))
    return RETAIL, tmp / "RETAIL.DEL", []


def retail_no_header_option(built, tmp):
    return RETAIL, write_text(tmp / "retail.txt", text_rows(built.csv[RETAIL])[1:]), ["--no-header"]


def retail_workbook_chinese_headers(built, tmp):
    frame = bank_frame(built, RETAIL, chinese=True)
    return RETAIL, write_workbook(tmp / "客户数据.xlsx", {"客户": frame}), []


def corporate_workbook_chinese_headers(built, tmp):
    frame = bank_frame(built, CORPORATE, chinese=True)
    return CORPORATE, write_workbook(tmp / "corporate.xlsx", {"Sheet1": frame}), []


SAME = [
    telco_workbook,
    telco_workbook_named_csv,
    telco_second_sheet,
    telco_tabs,
    telco_semicolons,
    telco_semicolons_detected,
    telco_tabs_detected,
    telco_pipes_detected,
    telco_utf16_tabs_detected,
    telco_utf8_bom,
    telco_utf16_unicode_text,
    telco_headed_del,
    retail_gbk_chinese_headers,
    retail_gb18030_given,
    retail_utf8_chinese_headers,
    retail_del,
    retail_no_header_option,
    retail_workbook_chinese_headers,
    corporate_workbook_chinese_headers,
]


@pytest.mark.parametrize("case", SAME, ids=[c.__name__ for c in SAME])
def test_every_form_of_the_file_loads_the_same_table(loaded, tmp_path, capsys, case):
    table, path, args = case(loaded, tmp_path)
    try:
        assert loaded.scorehouse("load", table, str(path), *args) == 0, capsys.readouterr().err
        pd.testing.assert_frame_equal(contents(loaded, table), loaded.reference[table])
    finally:  # the reference table back, whatever happened
        assert loaded.scorehouse("load", table, str(loaded.csv[table])) == 0


TELCO_COLUMNS = (
    "customer_id, gender, senior_citizen, partner, dependents, tenure, phone_service, "
    "multiple_lines, internet_service, online_security, online_backup, device_protection, "
    "… (21 in all)"
)


def test_the_columns_encoding_delimiter_and_sheet_read_are_said(loaded, tmp_path, capsys):
    _, path, _ = retail_gbk_chinese_headers(loaded, tmp_path)
    capsys.readouterr()
    try:
        assert loaded.scorehouse("load", RETAIL, str(path)) == 0
        retail = shape(loaded, RETAIL)[1]
        assert len(retail) == 42 and retail[0] == "customer_id"
        assert capsys.readouterr().out.strip() == (
            f"{RETAIL}: 300 rows x 42 columns from {path} (GB18030): "
            f"{', '.join(retail[:12])}, … (42 in all)"
        )
        _, book, args = telco_second_sheet(loaded, tmp_path)
        assert loaded.scorehouse("load", TELCO, str(book), *args) == 0
        assert capsys.readouterr().out.strip() == (
            f"{TELCO}: 7043 rows x 21 columns from {book} (sheet '数据'): {TELCO_COLUMNS}"
        )
        _, tsv, _ = telco_utf16_tabs_detected(loaded, tmp_path)
        assert loaded.scorehouse("load", TELCO, str(tsv)) == 0
        assert capsys.readouterr().out.strip() == (
            f"{TELCO}: 7043 rows x 21 columns from {tsv} (UTF-16, delimited by '\\t'): "
            f"{TELCO_COLUMNS}"
        )
        assert loaded.scorehouse("load", TELCO, str(TELCO_CSV)) == 0
        assert capsys.readouterr().out.strip() == (
            f"{TELCO}: 7043 rows x 21 columns from {TELCO_CSV}: {TELCO_COLUMNS}"
        )
    finally:
        for table in (RETAIL, TELCO):
            assert loaded.scorehouse("load", table, str(loaded.csv[table])) == 0


def test_a_semicolon_file_with_decimal_commas_loads_numbers(loaded, tmp_path, capsys):
    """The Telco file as a French Excel saves it: `;`-delimited, charges with a decimal
    comma (TotalCharges blank for 11 customers). Without --delimiter: the charges load as
    the very numbers of the comma file, the text columns as they are."""
    rows = text_rows(TELCO_CSV)
    charges = [rows[0].index("MonthlyCharges"), rows[0].index("TotalCharges")]
    for row in rows[1:]:
        for j in charges:
            row[j] = row[j].replace(".", ",")
    assert rows[1][charges[0]] == "29,85"  # the first customer's, as written
    path = write_text(tmp_path / "telco.csv", rows, ";")
    capsys.readouterr()
    try:
        assert loaded.scorehouse("load", TELCO, str(path)) == 0
        assert capsys.readouterr().out.strip() == (
            f"{TELCO}: 7043 rows x 21 columns from {path} (delimited by ';'): {TELCO_COLUMNS}"
        )
        got, reference = contents(loaded, TELCO), loaded.reference[TELCO]
        assert got["monthly_charges"].tolist() == reference["monthly_charges"].tolist()
        first = got.set_index("customer_id").loc[rows[1][0]]  # 7590-VHVEG, "29,85"
        assert (first["monthly_charges"], first["total_charges"]) == (29.85, 29.85)
        blank = reference["total_charges"].str.strip() == ""
        assert blank.sum() == 11 and got["total_charges"][blank].isna().all()
        assert (
            got["total_charges"][~blank].tolist()
            == reference["total_charges"][~blank].astype(float).tolist()
        )
        text = [c for c in reference.columns if c not in ("monthly_charges", "total_charges")]
        pd.testing.assert_frame_equal(got[text], reference[text])
    finally:
        assert loaded.scorehouse("load", TELCO, str(TELCO_CSV)) == 0


def test_a_chinese_header_without_a_mapping_gets_a_safe_name(loaded, tmp_path, capsys):
    """Beyond the declared columns: loaded under a deterministic ASCII name, with a warning;
    before: '(an empty name)'."""
    rows = text_rows(TELCO_CSV)
    rows = [[*row, "备注" if i == 0 else "x"] for i, row in enumerate(rows)]
    path = write_text(tmp_path / "telco.csv", rows, encoding="gbk")
    capsys.readouterr()
    try:
        assert loaded.scorehouse("load", TELCO, str(path)) == 0
        assert shape(loaded, TELCO)[1][-1] == "u5907_u6ce8"
        warning = capsys.readouterr().err
        assert "column(s) 备注 have no English name in ibm_telco.customers" in warning
        assert "loaded as u5907_u6ce8" in warning
    finally:
        assert loaded.scorehouse("load", TELCO, str(TELCO_CSV)) == 0
