"""Tabular files as users have them, read into Arrow: CSV/TSV text in UTF-8 (with or
without a BOM), UTF-16 with a BOM or GBK/GB18030, headerless DB2 `.del` exports, and
`.xlsx`/`.xls`/`.ods` workbooks (python-calamine). Column names are left as the file has
them: naming them (snake_case, Chinese headers) and checking them against a dbt source is
python_scoring.load's job. Every problem a user can fix is a ScorehouseError naming the
file.

Encodings: `--encoding` when given; otherwise a UTF-8 (or UTF-16) byte-order mark decides,
then UTF-8 if the bytes are valid UTF-8, then GB18030 (a superset of GBK and GB2312, what
Chinese Windows and DB2 exports write) if they decode into Chinese text. Anything else is
refused with the first bad byte and the --encoding option to pass: a wrong guess would
load mis-decoded text without a word.

Delimiters: `--delimiter` when given; otherwise detected among `,` `;` tab `|` from the
first 50 records of the text (at most its first 64 KiB), each candidate parsed as the CSV
reader parses it (quoted fields may hold any delimiter): a candidate fits when the header
and every one of those records split into the same number of fields, at least two. The
fitting candidate with the most fields wins, ties in the order `,` `;` tab `|`; when none
fits (one column, ragged rows) the file is read with `,`, whose errors name the delimiter
the header suggests. A comma file whose quoted fields hold `;` therefore stays a comma
file; a `;` file with decimal commas is not taken for a comma file, since its header and
rows split into different numbers of comma fields. Workbooks have no delimiter.

Decimal commas: in `;`-delimited text (detected or given) a text column whose every value
is a number written with a decimal comma (`1,5`, `-0,25`), an integer (`12`) or blank (or
one of the null markers such as `NA`), with `.` allowed as a thousands separator
(`1.234,5`), and at least one value holding a comma, becomes float64 (blanks null). A
column with any other value stays text, untouched.

A text file read with a header into one column whose name holds another likely delimiter
(`;`, tab, `|`, `,`) is refused, the message naming the delimiter to pass: a file read with
the wrong --delimiter never loads as one column of glued fields.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from python_scoring.errors import ScorehouseError

log = logging.getLogger(__name__)

WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
HEADERLESS_SUFFIXES = {".del"}  # DB2's delimited export: no header row
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # xlsx/ods, xls
_DELIMITER_WORDS = {"\\t": "\t", "tab": "\t", "TAB": "\t"}
# the delimiters a mis-read header may reveal, in the order they are suggested
_LIKELY_DELIMITERS = (";", "\t", "|", ",")
# the delimiters detected when --delimiter is not given, ties broken in this order
DETECTED_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES, _SAMPLE_RECORDS = 64 * 1024, 50
# a number with a decimal comma (or an integer), '.' as an optional thousands separator
_DECIMAL_COMMA = r"^-?(?:\d+|\d{1,3}(?:\.\d{3})+)(?:,\d+)?$"
_NULL_MARKERS = pa.array(sorted(pa_csv.ConvertOptions().null_values), pa.string())


def shown(delimiter: str) -> str:
    """A delimiter as the user types it on the command line."""
    return "'\\t'" if delimiter == "\t" else f"'{delimiter}'"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file: the CLI's --delimiter, --encoding, --sheet and --no-header.

    `delimiter` None detects it (text files; see the module docstring); `header` None
    reads a header row except from a `.del` file."""

    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    header: bool | None = None

    def __post_init__(self) -> None:
        delimiter = _DELIMITER_WORDS.get(self.delimiter, self.delimiter)
        if delimiter is not None and (
            len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n'
        ):
            raise ScorehouseError(
                f"--delimiter must be one ASCII character other than a quote or a line "
                f"break, got {self.delimiter!r}; e.g. --delimiter ';' or --delimiter '\\t' "
                f"for a tab"
            )
        object.__setattr__(self, "delimiter", delimiter)
        if self.encoding is not None:
            try:
                name = codecs.lookup(self.encoding).name
            except LookupError as exc:
                raise ScorehouseError(
                    f"--encoding {self.encoding!r} is not an encoding Python knows; e.g. "
                    f"utf-8, gbk, gb18030, utf-16, latin-1"
                ) from exc
            object.__setattr__(self, "encoding", name)


@dataclass
class Raw:
    """A file read as it is: `table` with the file's header names (f0, f1, ... when read
    without a header), how it was read, and (headerless) its first row as text."""

    table: pa.Table
    path: Path
    kind: str  # "text" or "workbook"
    encoding: str | None = None  # text: the encoding used
    sheet: str | None = None  # workbook: the sheet read
    header: bool = True
    first_row: list[str] = field(default_factory=list)
    delimiter: str | None = None  # text: the delimiter used
    detected: bool = False  # text: the delimiter was detected, not given
    decimal_commas: list[str] = field(default_factory=list)  # columns read as numbers

    def describe(self) -> str:
        """How it was read, '' for plain UTF-8 comma-separated text: "GB18030",
        "delimited by ';'", "UTF-16, delimited by '\\t'", "sheet 'Data'"."""
        if self.kind == "workbook":
            return f"sheet '{self.sheet}'"
        said = []
        if self.encoding not in (None, "utf-8", "utf-8-sig"):
            said.append(self.encoding.upper())
        if self.delimiter not in (None, ","):
            said.append(f"delimited by {shown(self.delimiter)}")
        return ", ".join(said)


def is_headerless(path: Path, options: ReadOptions) -> bool:
    if options.header is not None:
        return not options.header
    return path.suffix.lower() in HEADERLESS_SUFFIXES


def read_file(path: Path, options: ReadOptions | None = None) -> Raw:
    """The file as Arrow, column types inferred (workbooks exactly as the same sheet saved
    as CSV would be; decimal commas of `;` text as float64), names as in the file; the
    delimiter detected unless given. A text file with a header read into one column whose
    name holds another likely delimiter is refused (the wrong --delimiter)."""
    options = options or ReadOptions()
    data = read_bytes(path)
    headerless = is_headerless(path, options)
    if _is_workbook(path, data):
        text, sheet = _workbook_as_csv(path, options.sheet)
        if not text.strip():
            raise ScorehouseError(f"{path}: sheet '{sheet}' is empty")
        raw = _parse(path, text.encode("utf-8"), ",", headerless, newlines_in_values=True)
        raw.kind, raw.sheet, raw.delimiter = "workbook", sheet, None
        if options.encoding or options.delimiter is not None:
            log.info("%s is a workbook: --encoding and --delimiter do not apply", path)
        return raw
    if options.sheet is not None:  # e.g. a bank job's --related CSV beside an --input workbook
        log.info("%s is a text file: --sheet does not apply", path)
    utf8, encoding = decode(path, data, options.encoding)
    if not utf8.strip():
        raise ScorehouseError(f"{path}: the file is empty")
    delimiter = options.delimiter
    if delimiter is None:
        delimiter = detect_delimiter(utf8)
        if delimiter != ",":
            log.info("%s: delimited by %s (detected)", path, shown(delimiter))
    raw = _parse(path, utf8, delimiter, headerless, detected=options.delimiter is None)
    raw.encoding = encoding
    if encoding not in ("utf-8", "utf-8-sig"):
        log.info("%s: read as %s", path, encoding.upper())
    if raw.header and raw.table.num_columns == 1:
        name = raw.table.column_names[0]
        hint = delimiter_hint(name, delimiter)
        if hint:
            raise ScorehouseError(f"{path}: one column, {name[:60]!r}{hint}")
    return raw


def detect_delimiter(utf8: bytes) -> str:
    """The delimiter of UTF-8 CSV text among `,` `;` tab `|`: the one that splits the
    first 50 records (header included) into the same number of fields, at least two, the
    most fields winning, ties in that order; `,` when none does (module docstring)."""
    sample, cut = utf8, False
    if len(utf8) > _SAMPLE_BYTES:
        end = utf8.find(b"\n", _SAMPLE_BYTES)
        if end != -1:
            sample, cut = utf8[: end + 1], True
    text = sample.decode("utf-8", "replace")
    best, most = ",", 1
    for candidate in DETECTED_DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=candidate)
        try:
            records = [r for r in itertools.islice(reader, _SAMPLE_RECORDS + 1) if r]
        except csv.Error:  # e.g. a field over the csv module's size limit
            continue
        if cut:  # the last record may end inside a quoted field beyond the sample
            records = records[:-1]
        widths = {len(r) for r in records[:_SAMPLE_RECORDS]}
        if len(widths) == 1 and (width := widths.pop()) > most:
            best, most = candidate, width
    return best


def check_file(path: Path) -> None:
    """A file that is there and not empty (before any work: no read)."""
    if path.is_dir():
        raise ScorehouseError(f"{path}: a directory, not a file; give the file's path")
    if not path.is_file():
        raise ScorehouseError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ScorehouseError(f"{path}: the file is empty")


def read_bytes(path: Path) -> bytes:
    check_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScorehouseError(f"{path}: cannot read it ({exc.strerror})") from exc
    if not data:
        raise ScorehouseError(f"{path}: the file is empty")
    return data


def decode(path: Path, data: bytes, encoding: str | None) -> tuple[bytes, str]:
    """The bytes as UTF-8 (without a BOM) and the name of the encoding they were in."""
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = data[exc.start : exc.start + 2]
            raise ScorehouseError(
                f"{path}: not {encoding} text (byte {exc.start}: {bad!r}); "
                f"pass the file's encoding with --encoding, or leave it out to detect UTF-8 "
                f"and GBK/GB18030"
            ) from exc
        return text.removeprefix("\ufeff").encode("utf-8"), encoding
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text" (tab-delimited)
    if encoding is not None:
        return decode(path, data, encoding)
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError as exc:
        not_utf8 = exc.start
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is None or not _looks_chinese(text):
        raise ScorehouseError(
            f"{path}: not UTF-8 text (byte {not_utf8}: {data[not_utf8 : not_utf8 + 2]!r}), "
            f"nor GBK/GB18030 Chinese; pass its encoding, e.g. --encoding latin-1, or convert "
            f"it: iconv -f ENCODING -t UTF-8 {path.name}"
        )
    return text.encode("utf-8"), "gb18030"


def _looks_chinese(text: str) -> bool:
    """Bytes of another legacy encoding (latin-1, Big5, ...) often decode as GB18030 too,
    into rare characters: GB18030 counts only when nine in ten characters beyond ASCII are
    in GB2312, the simplified Chinese of everyday text (with its punctuation and
    full-width forms). Counted per distinct character: fast on large files."""
    counts = Counter(text)
    other = {c: n for c, n in counts.items() if not c.isascii()}
    common = 0
    for c, n in other.items():
        try:
            c.encode("gb2312")
            common += n
        except UnicodeEncodeError:
            pass
    return common >= 0.9 * sum(other.values())


def _is_workbook(path: Path, data: bytes) -> bool:
    """By content (a zip or an OLE file), whatever the extension: a `.csv` that is really
    a workbook is read as one; a `.xls` that is really text as text."""
    if data.startswith((_ZIP, _OLE)):
        if path.suffix.lower() not in WORKBOOK_SUFFIXES:
            log.info("%s is a workbook (whatever its name says): reading it as one", path)
        return True
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        log.info("%s is text, not a workbook (whatever its name says): reading it as text", path)
    return False


def _cell(value: object) -> str:
    """A workbook cell as the text a CSV export would hold."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 2**63:
            return str(int(value))  # workbooks store every number as a float
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _workbook_as_csv(path: Path, sheet: str | None) -> tuple[str, str]:
    """The chosen sheet (default: the first) as CSV text: all-empty rows and columns
    without a header or a value left out, as a 'save as CSV' would."""
    import python_calamine as calamine

    try:
        book = calamine.CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
        if not names:
            raise ScorehouseError(f"{path}: the workbook has no sheet")
        name = names[0] if sheet is None else sheet
        if name not in names:
            raise ScorehouseError(
                f"{path}: no sheet '{sheet}'; its sheets: {', '.join(names)} (pass one "
                f"with --sheet)"
            )
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=True)
    except calamine.PasswordError as exc:
        raise ScorehouseError(
            f"{path}: the workbook is password-protected; save it without a password"
        ) from exc
    except calamine.CalamineError as exc:
        first = (str(exc).splitlines() or ["unknown error"])[0]
        raise ScorehouseError(
            f"{path}: not a readable workbook ({first}); open and save it again as .xlsx, or "
            f"export the sheet as CSV"
        ) from exc
    cells = [[_cell(v) for v in row] for row in rows]
    cells = [row for row in cells if any(row)]
    width = max((len(row) for row in cells), default=0)
    keep = [j for j in range(width) if any(j < len(row) and row[j] for row in cells)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in cells:
        writer.writerow([row[j] if j < len(row) else "" for j in keep])
    return out.getvalue(), name


def delimiter_hint(header: str, used: str) -> str:
    """' (it looks delimited by ';': pass --delimiter ';')' when a header line holds
    another likely delimiter but not the one used; else ''."""
    if used in header:
        return ""
    for candidate in _LIKELY_DELIMITERS:
        if candidate != used and candidate in header:
            return (
                f"; it looks delimited by {shown(candidate)}: pass --delimiter {shown(candidate)}"
            )
    return ""


def _parse(
    path: Path,
    utf8: bytes,
    delimiter: str,
    headerless: bool,
    newlines_in_values: bool = False,
    detected: bool = False,
) -> Raw:
    first_line = utf8.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(utf8),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=headerless),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=newlines_in_values
            ),
        )
    except pa.ArrowInvalid as exc:
        problem = (str(exc).splitlines() or ["unknown error"])[0]
        how = f" (delimiter {shown(delimiter)} detected)" if detected and delimiter != "," else ""
        raise ScorehouseError(
            f"{path}: unreadable CSV{how}: {problem}{delimiter_hint(first_line, delimiter)}"
        ) from exc
    if table.num_rows == 0:
        raise ScorehouseError(f"{path}: a header but no data rows")
    first_row: list[str] = []
    if headerless:
        first_row = next(csv.reader([first_line], delimiter=delimiter), [])
    converted: list[str] = []
    if delimiter == ";":
        table, converted = decimal_commas(table)
        if converted:
            log.info("%s: %s read as numbers with a decimal comma", path, ", ".join(converted))
    return Raw(
        table,
        path,
        "text",
        header=not headerless,
        first_row=first_row,
        delimiter=delimiter,
        detected=detected,
        decimal_commas=converted,
    )


def decimal_commas(table: pa.Table) -> tuple[pa.Table, list[str]]:
    """The table with each text column of numbers written with a decimal comma as float64
    (module docstring), and the names of those columns."""
    converted = []
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        values = pc.utf8_trim_whitespace(column)
        blank = pc.fill_null(pc.is_in(values, value_set=_NULL_MARKERS), True)
        numeric = pc.match_substring_regex(values, _DECIMAL_COMMA)
        if not pc.all(pc.or_(blank, numeric)).as_py():
            continue
        if not pc.any(pc.and_not(pc.match_substring(values, ","), blank)).as_py():
            continue  # integers (with thousands separators) only: not a decimal comma column
        numbers = pc.replace_substring(pc.replace_substring(values, ".", ""), ",", ".")
        numbers = pc.if_else(blank, pa.scalar(None, numbers.type), numbers)
        table = table.set_column(i, name, pc.cast(numbers, pa.float64()))
        converted.append(name)
    return table, converted
