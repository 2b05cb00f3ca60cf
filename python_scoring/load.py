"""A user's own files into the tables dbt sources declare: a CSV file (`scorehouse load`)
and a basket file (one basket per line, `scorehouse bank cross-sell --baskets`)."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)


def snake_case(name: str) -> str:
    """customerID -> customer_id, StreamingTV -> streaming_tv, 'Total Charges' ->
    total_charges: names every engine reads unquoted."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def read_csv(path: Path, delimiter: str = ",") -> pa.Table:
    """A CSV file (UTF-8, header row) as Arrow, column types inferred, column names in
    snake_case; every problem a user can fix is a ScorehouseError naming the file."""
    if not path.is_file():
        raise ScorehouseError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ScorehouseError(f"{path}: the file is empty")
    try:
        table = pa_csv.read_csv(path, parse_options=pa_csv.ParseOptions(delimiter=delimiter))
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text or "utf8" in text.lower():
            raise ScorehouseError(
                f"{path}: not UTF-8 text ({text.splitlines()[0]}); convert it, e.g. "
                f"iconv -f GBK -t UTF-8 {path.name}"
            ) from exc
        raise ScorehouseError(f"{path}: unreadable CSV: {text.splitlines()[0]}") from exc
    if table.num_rows == 0:
        raise ScorehouseError(f"{path}: a header but no data rows")
    # pyarrow reads bytes that are not UTF-8 as a binary column (typical: GBK exports)
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
    if binary:
        raise ScorehouseError(
            f"{path}: column(s) {', '.join(binary)} are not UTF-8 text; convert the file, "
            f"e.g. iconv -f GBK -t UTF-8 {path.name} > {path.stem}.utf8.csv"
        )
    names = [snake_case(n) for n in table.column_names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or "" in names:
        raise ScorehouseError(
            f"{path}: column names must be distinct and non-empty in snake_case "
            f"({', '.join(duplicates) or 'an empty name'})"
        )
    return table.rename_columns(names)


def load_baskets(project: Project, wh: Warehouse, path: Path) -> int:
    """A basket file (one basket per line, items comma-separated, no header; e.g.
    groceries.csv) into bank.basket_items: basket_id = line number, items stripped, empty
    items dropped, each item once per basket."""
    relation = project.source_tables("bank").get("basket_items")
    if relation is None:
        raise ScorehouseError("dbt source 'bank' does not declare table basket_items")
    if not path.is_file():
        raise ScorehouseError(f"{path}: no such file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ScorehouseError(
            f"{path}: not UTF-8 text (byte {exc.start}); convert it, e.g. "
            f"iconv -f GBK -t UTF-8 {path.name}"
        ) from exc
    ids, items = [], []
    for number, row in enumerate(csv.reader(lines), start=1):
        for item in dict.fromkeys(i.strip() for i in row if i.strip()):
            ids.append(str(number))
            items.append(item)
    if not items:
        raise ScorehouseError(f"{path}: no basket holds an item")
    data = pa.table({"basket_id": pa.array(ids, pa.string()), "item": pa.array(items, pa.string())})
    wh.replace_tables([(relation, data)])
    log.info("loaded %d baskets, %d basket items from %s", number, len(items), path)
    return len(items)


def load_csv(project: Project, wh: Warehouse, target: str, path: Path, delimiter: str = ",") -> int:
    """Replace the table of dbt source `target` ('source.table') with the file's rows."""
    source, _, table_name = target.partition(".")
    tables = project.source_tables(source) if table_name else {}
    if table_name not in tables:
        known = ", ".join(f"{source}.{t}" for t in sorted(tables)) or "none"
        raise ScorehouseError(
            f"'{target}' is not a table of a dbt source (declare it in a sources YAML; "
            f"tables of source '{source}': {known})"
        )
    data = read_csv(path, delimiter)
    rows = wh.replace_tables([(tables[table_name], data)])
    log.info(
        "loaded %d rows x %d columns from %s into %s",
        data.num_rows,
        data.num_columns,
        path,
        tables[table_name],
    )
    return rows[str(tables[table_name])]
