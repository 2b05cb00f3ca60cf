"""The bank file jobs (`scorehouse bank`) around their inputs and output: the job names the
CLI offers, the one table of the bank team's Chinese headers, the input files read in
every form the team has them (through the job, stopped once the inputs are loaded), and
the --output path checked before any work. (The jobs themselves run end to end in
tests/python/test_bank.py.)"""

from __future__ import annotations

import csv
import errno
import re
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from python_scoring.cli import main as scorehouse_main
from python_scoring.errors import ScorehouseError
from python_scoring.jobs import BANK_JOB_NAMES, bank_files
from python_scoring.jobs.bank_files import JOBS
from python_scoring.synthetic.bank import BankConfig, write_csv_files

from ..conftest import REPO

SOURCES = REPO / "models" / "staging" / "bank" / "_bank__sources.yml"
# the field names of the team's own description (shared/reference/bank-customer-mining.md)
REFERENCE_HEADERS = [
    "年龄",
    "性别",
    "开户年限",
    "学历",
    "婚姻状况",
    "村民",
    "新市民",
    "代发客户",
    "按揭客户",
    "大学生客户",
    "股东客户",
    "企业主客户",
    "持有金融产品个数",
    "持有渠道产品个数",
    "签约消费渠道个数",
    "持有定期存款产品个数",
    "持有贷款产品个数",
    "持有理财产品个数",
    "持有保险产品个数",
    "持有基金产品个数",
    "持有国债产品个数",
    "持有高净值产品个数",
    "风险评级",
    "储蓄产品偏好",
    "理财产品偏好",
    "保险产品偏好",
    "基金产品偏好",
    "交易渠道偏好",
    "存款余额",
    "保险余额",
    "理财余额",
    "基金余额",
    "积存金余额",
    "国债余额",
    "高净值产品余额",
    "贷款余额",
    "信用卡分期余额",
    "金融资产月日均",
    "近三个月金融资产月日均",
    "月均交易笔数",
    "月均交易金额",
    "注册地址",
    "经营地址",
    "客户编号",
]


def test_the_cli_offers_exactly_the_jobs_there_are():
    assert tuple(JOBS) == BANK_JOB_NAMES


# ---- the one table of Chinese headers ---------------------------------------------------------
def chinese_headers() -> dict[str, dict[str, str]]:
    """table -> column -> Chinese header, as the sources YAML declares them (meta zh)."""
    (bank,) = yaml.safe_load(SOURCES.read_text())["sources"]
    return {
        t["name"]: {c["name"]: (c.get("meta") or {}).get("zh") for c in t["columns"]}
        for t in bank["tables"]
    }


def test_every_bank_column_has_one_chinese_header():
    for table, headers in chinese_headers().items():
        missing = [column for column, zh in headers.items() if not zh]
        assert not missing, f"bank.{table}: no meta zh for {missing}"
        assert len(set(headers.values())) == len(headers), f"bank.{table}: a header twice"


def test_the_teams_field_names_are_all_mapped():
    mapped = {zh for headers in chinese_headers().values() for zh in headers.values()}
    assert not set(REFERENCE_HEADERS) - mapped


def test_docs_show_the_same_table():
    """docs/bank.md shows each (table, column, header) of the sources YAML, and no other."""
    text = (REPO / "docs" / "bank.md").read_text()
    shown = set(re.findall(r"^\| `(\w+)` \| `(\w+)` \| (\S+) \|$", text, flags=re.M))
    declared = {
        (table, column, zh)
        for table, headers in chinese_headers().items()
        for column, zh in headers.items()
    }
    assert shown == declared


# ---- input files in every form, read by the job ---------------------------------------------
def stop(*args, **kwargs):
    """In place of the monthly cycle: the job stops once its inputs are loaded."""
    raise ScorehouseError("loaded")


@pytest.fixture(scope="module")
def bank_csv(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bank_csv")
    write_csv_files(BankConfig(n_corporate=100, n_retail=200, n_months=2), out)
    return {p.stem: p for p in out.glob("*.csv")}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bank_work")


def loaded_inputs(workdir: Path, job: str, capsys, *args: str) -> dict[str, pd.DataFrame]:
    """Run `scorehouse bank JOB ARGS` up to the loaded inputs; the embedded warehouse's
    bank tables."""
    output = workdir.parent / f"{workdir.name}-out.csv"
    code = scorehouse_main(
        ["--project-dir", str(REPO), "-q", "bank", job, *args, "--output", str(output)]
        + ["--workdir", str(workdir)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "scorehouse: error: loaded" in err, err
    con = duckdb.connect(str(workdir / "bank.duckdb"), read_only=True)
    try:
        return {
            table: con.execute(f"select * from raw.bank_{table} order by all").df()
            for (table,) in con.execute(
                "select table_name[6:] from information_schema.tables "
                "where table_schema = 'raw' and table_name like 'bank_%' order by 1"
            ).fetchall()
        }
    finally:
        con.close()


def chinese(path: Path, table: str) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    zh = chinese_headers()[table]
    return [[zh[name] for name in rows[0]], *rows[1:]]


def write_rows(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)
    return path


def test_inputs_in_every_form_load_the_same_tables(
    bank_csv, workdir, tmp_path, capsys, monkeypatch
):
    """potential (--input and --related) from UTF-8 CSV, then from a workbook with Chinese
    headers and a GBK file with Chinese headers, then from headerless .del exports: the
    same two tables each time."""

    monkeypatch.setattr("python_scoring.jobs.cycle.run_cycle", stop)
    monthly, registrations = bank_csv["corporate_monthly"], bank_csv["corporate_registrations"]
    reference = loaded_inputs(
        workdir, "potential", capsys, "--input", str(monthly), "--related", str(registrations)
    )
    assert set(reference) == {"corporate_monthly", "corporate_registrations"}

    book = tmp_path / "对公客户.xlsx"
    with pd.ExcelWriter(book, engine="xlsxwriter") as writer:
        readme = pd.DataFrame({"说明": ["对公客户月度数据"]})
        readme.to_excel(writer, sheet_name="说明", index=False)
        frame = pd.read_csv(monthly).rename(columns=chinese_headers()["corporate_monthly"])
        frame.to_excel(writer, sheet_name="数据", index=False)
    gbk = write_rows(
        tmp_path / "registrations.csv", chinese(registrations, "corporate_registrations"), "gbk"
    )
    again = loaded_inputs(
        workdir, "potential", capsys, "--input", str(book), "--sheet", "数据", "--related", str(gbk)
    )
    for table, frame in reference.items():
        pd.testing.assert_frame_equal(again[table], frame, obj=table)

    headerless = {}
    for name, path in (("monthly", monthly), ("registrations", registrations)):
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))[1:]
        headerless[name] = write_rows(tmp_path / f"{name}.del", rows, "gbk")
    again = loaded_inputs(
        workdir,
        "potential",
        capsys,
        "--input",
        str(headerless["monthly"]),
        "--related",
        str(headerless["registrations"]),
    )
    for table, frame in reference.items():
        pd.testing.assert_frame_equal(again[table], frame, obj=table)


def test_a_bad_related_file_loads_neither_input(bank_csv, workdir, tmp_path, capsys, monkeypatch):
    """Both files are read and checked before either table is replaced."""
    monkeypatch.setattr("python_scoring.jobs.cycle.run_cycle", stop)
    monthly, registrations = bank_csv["corporate_monthly"], bank_csv["corporate_registrations"]
    before = loaded_inputs(
        workdir, "potential", capsys, "--input", str(monthly), "--related", str(registrations)
    )
    half = tmp_path / "monthly.csv"
    half.write_text("".join(monthly.read_text().splitlines(keepends=True)[:11]))
    wrong = tmp_path / "registrations.csv"
    wrong.write_text(registrations.read_text().replace('"registered_capital"', '"capital"'))
    output = tmp_path / "out.csv"
    code = scorehouse_main(
        ["--project-dir", str(REPO), "-q", "bank", "potential", "--input", str(half)]
        + ["--related", str(wrong), "--output", str(output), "--workdir", str(workdir)]
    )
    line = capsys.readouterr().err.strip()
    assert code == 2 and line.count("\n") == 0
    assert "missing column(s) registered_capital that bank.corporate_registrations" in line
    con = duckdb.connect(str(workdir / "bank.duckdb"), read_only=True)
    try:
        rows = con.execute("select count(*) from raw.bank_corporate_monthly").fetchone()[0]
    finally:
        con.close()
    assert rows == len(before["corporate_monthly"]) == 200
    assert not output.exists()


# ---- --output checked before any work ---------------------------------------------------------
def _a_directory(tmp: Path, given: Path) -> Path:
    (tmp / "results").mkdir()
    return tmp / "results"


def _missing_parent(tmp: Path, given: Path) -> Path:
    return tmp / "no" / "such" / "dir" / "out.csv"


def _parent_is_a_file(tmp: Path, given: Path) -> Path:
    return given / "out.csv"


def _the_input_itself(tmp: Path, given: Path) -> Path:
    return given


OUTPUT_FAULTS = {
    _a_directory: "is a directory; give a file name, e.g. ",
    _missing_parent: "does not exist; create it first (mkdir -p ",
    _parent_is_a_file: "is not a directory",
    _the_input_itself: "is the --input file; write the result to another file",
}


@pytest.mark.parametrize("fault", list(OUTPUT_FAULTS), ids=[f.__name__[1:] for f in OUTPUT_FAULTS])
def test_a_bad_output_path_is_refused_before_any_work(tmp_path, capsys, fault):
    """Before: a directory failed only after the whole job, leaving a .partial behind."""
    given = tmp_path / "retail.csv"
    given.write_text("customer_id\nR1\n")
    output = fault(tmp_path, given)
    work = tmp_path / "work"
    code = scorehouse_main(
        ["--project-dir", str(REPO), "-q", "bank", "cross-sell", "--input", str(given)]
        + ["--output", str(output), "--workdir", str(work)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"scorehouse: error: --output {output}")
    assert OUTPUT_FAULTS[fault] in line
    assert not work.exists()  # refused before the work directory, dbt or any file was touched
    assert not list(tmp_path.rglob("*.partial"))
    assert given.read_text() == "customer_id\nR1\n"


def test_an_output_directory_that_takes_no_file_is_refused(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(bank_files.tempfile, "mkstemp", read_only)
    with pytest.raises(ScorehouseError, match=r"cannot write in .* \(Permission denied\)"):
        bank_files.check_output(tmp_path / "out.csv", {})


def test_a_failed_write_leaves_neither_output_nor_partial(tmp_path, monkeypatch):
    """A disk that fills while the result is written: one line, nothing left behind."""

    def disk_full(table, path):
        Path(path).write_text("customer_id\nC1\n")  # half written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bank_files.pa_csv, "write_csv", disk_full)
    output = tmp_path / "out.csv"
    with pytest.raises(ScorehouseError, match="cannot write it \\(No space left on device\\)"):
        bank_files._write_output(pa.table({"customer_id": ["C1"]}), output)
    assert list(tmp_path.iterdir()) == []
