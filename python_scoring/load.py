"""A user's own files into the tables dbt sources declare (`scorehouse load`, the input of
`scorehouse bank`) and a basket file (one basket per line, `scorehouse bank cross-sell
--baskets`).

A file is read (python_scoring.files: CSV/TSV, GBK, `.del`, `.xlsx`), its headers are
named — a Chinese header through the `meta: {zh: ...}` of the source's columns, anything
else in snake_case — and checked against the columns the source declares *before* the
table is replaced: a file that lacks a declared column (mis-delimited, another table's
file, an unmapped Chinese header) is refused with one line and the previous table stays.

How a file is read — the encoding and the delimiter (detected among `,` `;` tab `|` unless
given), decimal commas of `;` files as numbers, a one-column file with a delimiter in its
header refused — is python_scoring.files'. For a caller that wants the table without a dbt
source (e.g. to write a source for it):

- `read_table(path, options=None, source=None) -> pa.Table`: the columns named
  (snake_case, escaped Chinese headers), checked against `source` when given;
- `read_raw(path, options=None, source=None) -> tuple[pa.Table, Raw]`: the same table and
  how the file was read: `Raw.kind` ('text' or 'workbook'), `Raw.encoding`,
  `Raw.delimiter` (text: the one used) and `Raw.detected` (it was not given),
  `Raw.decimal_commas` (columns read as numbers), `Raw.sheet` (workbook), `Raw.header`,
  and `Raw.describe()` ("GB18030, delimited by ';'", '' for UTF-8 comma text).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from python_scoring.errors import ScorehouseError
from python_scoring.files import Raw, ReadOptions, decode, read_bytes, read_file
from python_scoring.project import Project, Relation
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)


def snake_case(name: str) -> str:
    """customerID -> customer_id, StreamingTV -> streaming_tv, 'Total Charges' ->
    total_charges: names every engine reads unquoted."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def escaped(header: str) -> str:
    """A header with characters beyond ASCII and no English name, as a deterministic name
    every engine reads: each such character as u + its code point (备注 -> u5907_u6ce8,
    余额(元) -> u4f59_u989d_u5143)."""
    return snake_case("".join(c if c.isascii() else f"_u{ord(c):04x}_" for c in header))


@dataclass(frozen=True)
class SourceTable:
    """A table of a dbt source: its relation, declared columns (in order) and the Chinese
    headers that name them (`meta: {zh: ...}`)."""

    name: str  # source.table
    relation: Relation
    columns: tuple[str, ...]
    zh: dict[str, str]  # Chinese header -> column
    yaml: str  # the sources YAML declaring it


def source_table(project: Project, target: str) -> SourceTable:
    """The dbt source table `target` ('source.table') as the manifest declares it."""
    source, _, table_name = target.partition(".")
    nodes = {
        node["name"]: node
        for node in project.manifest["sources"].values()
        if node["source_name"] == source
    }
    node = nodes.get(table_name) if table_name else None
    if node is None:
        known = ", ".join(f"{source}.{t}" for t in sorted(nodes)) or "none"
        raise ScorehouseError(
            f"'{target}' is not a table of a dbt source (declare it in a sources YAML; "
            f"tables of source '{source}': {known})"
        )
    zh: dict[str, str] = {}
    for column, spec in node["columns"].items():
        meta = spec.get("meta") or (spec.get("config") or {}).get("meta") or {}
        if meta.get("zh"):
            header = str(meta["zh"]).strip()
            if header in zh:
                raise ScorehouseError(
                    f"{node['original_file_path']}: {target} gives the Chinese header "
                    f"'{header}' to both {zh[header]} and {column}; make each meta.zh unique"
                )
            zh[header] = column
    return SourceTable(
        target,
        project.source(source, table_name),
        tuple(node["columns"]),
        zh,
        node.get("original_file_path", "a sources YAML"),
    )


def _clean(header: str) -> str:
    return header.replace("\ufeff", "").strip()


def column_name(header: str, zh: dict[str, str]) -> str:
    """The column a header names: its declared Chinese header's column, else snake_case,
    else (characters beyond ASCII) escaped."""
    header = _clean(header)
    if header in zh:
        return zh[header]
    return snake_case(header) if header.isascii() else escaped(header)


def listed(names: list[str] | tuple[str, ...], most: int = 8) -> str:
    """'a, b, c' or, beyond `most` names, 'a, b, … (12 in all)'."""
    shown = ", ".join(names[:most])
    return shown + (f", … ({len(names)} in all)" if len(names) > most else "")


def _named(raw: Raw, source: SourceTable | None) -> pa.Table:
    """The table with its columns named and checked against the source's declaration."""
    path, table = raw.path, raw.table
    declared = list(source.columns) if source else []
    zh = source.zh if source else {}
    if not raw.header:
        if not declared:
            which = f"{source.name} declares none" if source else "there is no dbt source"
            raise ScorehouseError(
                f"{path}: a file without a header row (.del, --no-header) takes the columns "
                f"its dbt source declares, in order, and {which}; declare them in the sources "
                f"YAML or give the file a header row"
            )
        if table.num_columns != len(declared):
            raise ScorehouseError(
                f"{path}: {table.num_columns} fields per row but {source.name} declares "
                f"{len(declared)} columns ({source.yaml}); a file without a header row "
                f"(.del, --no-header) must hold exactly the declared columns, in order: "
                f"{listed(declared)}"
            )
        return table.rename_columns(declared)
    headers = table.column_names
    names = [column_name(h, zh) for h in headers]
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise ScorehouseError(
            f"{path}: column(s) {', '.join(map(str, blank))} have no usable name in the header "
            f"row ({', '.join(repr(headers[i - 1]) for i in blank)}); name them in the file"
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ScorehouseError(
            f"{path}: column names must be distinct in snake_case ({', '.join(duplicates)} "
            f"more than once); rename the columns in the file"
        )
    unnamed = [h for h in map(_clean, headers) if not h.isascii() and h not in zh]
    missing = [c for c in declared if c not in names]
    if missing:  # (one column of glued fields: refused by files.read_file already)
        what = f"missing column(s) {listed(missing)} that {source.name} declares ({source.yaml})"
        if unnamed:
            why = (
                f"; header(s) {listed(unnamed)} have no English name: give the source's "
                f"columns their Chinese headers (meta: {{zh: ...}}) in {source.yaml}"
            )
        else:
            why = f"; the file's columns: {listed(names)} (is it another table's file?)"
        if raw.encoding not in (None, "utf-8", "utf-8-sig"):
            why += f"; read as {raw.encoding.upper()} (not UTF-8): if wrong, pass --encoding"
        raise ScorehouseError(f"{path}: {what}{why}")
    if unnamed:
        log.warning(
            "%s: column(s) %s have no English name%s: loaded as %s",
            path,
            ", ".join(unnamed),
            f" in {source.name} ({source.yaml}, meta zh)" if source else "",
            ", ".join(escaped(h) for h in unnamed),
        )
    return table.rename_columns(names)


def _is_header(first_row: list[str], source: SourceTable) -> bool:
    """A `.del` file whose first row names every declared column has a header after all."""
    return set(source.columns) <= {column_name(cell, source.zh) for cell in first_row}


def read_raw(
    path: Path, options: ReadOptions | None = None, source: SourceTable | None = None
) -> tuple[pa.Table, Raw]:
    """`read_table`'s table and how the file was read (`Raw`: kind, encoding, delimiter
    and whether it was detected, sheet, header, decimal-comma columns; `Raw.describe()`).
    `Raw.table` holds the file's own column names, the returned table the named ones."""
    options = options or ReadOptions()
    raw = read_file(path, options)
    if not raw.header and options.header is None and source and _is_header(raw.first_row, source):
        log.info("%s: its first row names the columns of %s: read as a header", path, source.name)
        options = dataclasses.replace(options, header=True)
        raw = read_file(path, options)
    return _named(raw, source), raw


def read_table(
    path: Path, options: ReadOptions | None = None, source: SourceTable | None = None
) -> pa.Table:
    """A file as Arrow with its columns named (and, given the source, checked: every
    declared column present); the delimiter detected unless `options` give it. Every
    problem a user can fix is a ScorehouseError naming the file."""
    return read_raw(path, options, source)[0]


@dataclass(frozen=True)
class Loaded:
    rows: int
    read_as: str  # 'GB18030', "delimited by ';'", "sheet 'Data'", ...; '' for UTF-8 CSV
    columns: tuple[str, ...] = ()  # the loaded table's columns, in order


def load_file(
    project: Project,
    wh: Warehouse,
    target: str,
    path: Path,
    options: ReadOptions | None = None,
) -> Loaded:
    """Replace the table of dbt source `target` ('source.table') with the file's rows,
    only once the file has every column the source declares."""
    source = source_table(project, target)
    data, raw = read_raw(path, options, source)
    rows = wh.replace_tables([(source.relation, data)])[str(source.relation)]
    log.info(
        "loaded %d rows x %d columns from %s into %s",
        data.num_rows,
        data.num_columns,
        path,
        source.relation,
    )
    return Loaded(rows, raw.describe(), tuple(data.column_names))


def load_baskets(
    project: Project, wh: Warehouse, path: Path, options: ReadOptions | None = None
) -> int:
    """A basket file (one basket per line, items comma-separated, no header; e.g.
    groceries.csv; UTF-8 or GBK/GB18030 or --encoding) into bank.basket_items:
    basket_id = line number, items stripped, empty items dropped, each item once per
    basket. Baskets have no delimiter detection (their lines differ in length): `,`
    unless --delimiter gives another."""
    relation = project.source_tables("bank").get("basket_items")
    if relation is None:
        raise ScorehouseError("dbt source 'bank' does not declare table basket_items")
    options = options or ReadOptions()
    utf8, _ = decode(path, read_bytes(path), options.encoding)
    lines = utf8.decode("utf-8").splitlines()
    ids, items = [], []
    number = 0
    for number, row in enumerate(csv.reader(lines, delimiter=options.delimiter or ","), start=1):
        for item in dict.fromkeys(i.strip() for i in row if i.strip()):
            ids.append(str(number))
            items.append(item)
    if not items:
        raise ScorehouseError(f"{path}: no basket holds an item")
    data = pa.table({"basket_id": pa.array(ids, pa.string()), "item": pa.array(items, pa.string())})
    wh.replace_tables([(relation, data)])
    log.info("loaded %d baskets, %d basket items from %s", number, len(items), path)
    return len(items)
