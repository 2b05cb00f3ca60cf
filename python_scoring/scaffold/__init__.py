"""`scorehouse scaffold NAME --from FILE_OR_TABLE --id COLUMN --label COLUMN[=VALUE]`: a
user's own table to a registry model in one command, no file written by hand.

1. read the file (load.read_table: delimiter, encoding, decimal commas detected) or the
   warehouse table (a dbt source `source.table`, or `schema.table`);
2. profile it (profile.py): the id unique, the label two classes, each column typed,
   leaks refused;
3. write the dbt files (render.py) and the two selectors NAME_features / NAME_marts
   (refusing to overwrite any of them without --force);
4. parse, load the file(s) into the raw table(s) the new source declares, and
   `dbt build --selector NAME_features`, so `scorehouse train --model NAME` runs next.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from python_scoring.dbt_runner import ensure_manifest, run_dbt
from python_scoring.errors import ScorehouseError
from python_scoring.files import ReadOptions
from python_scoring.load import read_table, snake_case
from python_scoring.project import Project, Relation
from python_scoring.scaffold import render
from python_scoring.scaffold.profile import label_lag, months_of, profile, with_row_id
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)

ROW_ID = "row_id"
# a --from with one of these suffixes is a file even when it is missing (said so)
_FILE_SUFFIXES = {".csv", ".tsv", ".txt", ".del", ".dat", ".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}


@dataclass(frozen=True)
class Request:
    """The command line of `scorehouse scaffold`."""

    name: str
    origin: str  # a file path, or source.table / schema.table
    id_column: str | None  # None with row_id
    label: str  # COLUMN or COLUMN=VALUE
    exclude: tuple[str, ...] = ()
    month_column: str | None = None
    row_id: bool = False
    test: str | None = None  # a second file (or table): the test set
    force: bool = False
    search_auto: bool = False
    options: ReadOptions = field(default_factory=ReadOptions)


@dataclass
class Scaffolded:
    files: list[Path]
    rows: int
    positives: int
    test_rows: int
    left_out: list[str]
    kinds: dict[str, int]


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name) or "__" in name:
        raise ScorehouseError(
            f"scaffold name {name!r} must be lower-case letters, digits and single "
            "underscores, starting with a letter (it names dbt models, e.g. telco_own)"
        )
    if name in ("telco", "bank", "ml", "raw"):
        raise ScorehouseError(f"scaffold name {name!r} is taken by the project; choose another")


def _read(project: Project, origin: str, options: ReadOptions) -> tuple[pa.Table, Relation | None]:
    """A file's rows, or a warehouse table's (and that table's relation)."""
    path = Path(origin)
    table_name = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*", origin)
    if path.exists() or not table_name or path.suffix.lower() in _FILE_SUFFIXES:
        return read_table(path, options), None
    parts = origin.split(".")  # source.table or schema.table
    ensure_manifest(project)
    try:
        relation = project.source(*parts)
    except ScorehouseError:
        relation = Relation(None, parts[0], parts[1])
    with Warehouse.connect(project) as wh:
        try:
            table = wh.query_arrow(f"select * from {relation.sql}")
        except ScorehouseError as exc:
            raise ScorehouseError(f"--from {origin}: cannot read it: {exc}") from exc
    return table.rename_columns([snake_case(c) for c in table.column_names]), relation


def _paths(project: Project, name: str) -> dict[str, Path]:
    models = project.project_dir / "models"
    return {
        "sources": models / "staging" / name / f"_{name}__sources.yml",
        "staging": models / "staging" / name / f"stg_{name}.sql",
        "staging_yml": models / "staging" / name / f"_{name}__models.yml",
        "features": models / "features" / name / f"{name}_features.sql",
        "features_yml": models / "features" / name / f"_{name}__models.yml",
        "training_set": models / "ml" / name / f"{name}_training_set.sql",
        "scoring_input": models / "ml" / name / f"{name}_scoring_input.sql",
        "ml_yml": models / "ml" / name / f"_{name}__models.yml",
    }


def _without_block(text: str, name: str) -> str:
    """selectors.yml without a previous scaffold's block for name."""
    begin, end = render.begin_marker(name), render.end_marker(name)
    if begin not in text:
        return text
    head, rest = text.split(begin, 1)
    return head.rstrip(" ") + rest.split(end, 1)[1].lstrip("\n")


def _test_table(request: Request, project: Project, train: pa.Table, start: int) -> pa.Table:
    test, _ = _read(project, request.test, request.options)
    if request.row_id:
        test = with_row_id(test, start, ROW_ID)
    missing = [c for c in train.column_names if c not in test.column_names]
    extra = [c for c in test.column_names if c not in train.column_names]
    if missing or extra:
        raise ScorehouseError(
            f"--test {request.test}: its columns differ from --from's (missing: "
            f"{', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'})"
        )
    test = test.select(train.column_names)
    try:
        return test.cast(train.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ScorehouseError(
            f"--test {request.test}: a column's values do not fit the --from file's type: {exc}"
        ) from exc


def scaffold(project: Project, request: Request) -> Scaffolded:
    _check_name(request.name)
    name = request.name
    if request.row_id and request.id_column:
        raise ScorehouseError("pass either --id COLUMN or --row-id, not both")
    if not request.row_id and not request.id_column:
        raise ScorehouseError("pass --id COLUMN (the customer id), or --row-id for a file without")
    table, relation = _read(project, request.origin, request.options)
    if request.row_id:
        if relation is not None:
            raise ScorehouseError("--row-id numbers a file's rows; a table needs its own --id")
        table = with_row_id(table, 1, ROW_ID)
    test = None
    if request.test:
        test = _test_table(request, project, table, table.num_rows + 1)
    id_column = ROW_ID if request.row_id else snake_case(request.id_column)
    label_name, _, positive = request.label.partition("=")
    label_column = snake_case(label_name)
    month_column = snake_case(request.month_column) if request.month_column else None
    exclude = [snake_case(c) for c in request.exclude]
    both = pa.concat_tables([table, test]) if test is not None else table
    found, y = profile(both, id_column, label_column, positive or None, month_column, exclude)
    lag = label_lag(months_of(both.column(month_column).to_pandas()), y) if month_column else 0
    if test is not None:
        shared = set(table.column(id_column).to_pylist()) & set(test.column(id_column).to_pylist())
        if shared:
            raise ScorehouseError(
                f"--test {request.test}: {len(shared)} id(s) are in both files, e.g. "
                f"{sorted(map(str, shared))[0]}: a customer is trained on or tested on, not both"
            )

    paths = _paths(project, name)
    plan = render.Plan(
        name=name,
        id_column=id_column,
        label=label_column,
        month_column=month_column,
        snapshot_month=dt.date.today().replace(day=1).isoformat(),
        has_test_file=test is not None,
        source_name=name,
        table_name=name,
        test_table_name=f"{name}_test" if test is not None else None,
        schema=relation.schema if relation is not None else None,
        identifier=relation.identifier if relation is not None else name,
        origin=Path(request.origin).name if relation is None else request.origin,
        search_auto=request.search_auto,
        owner=getpass.getuser(),
        label_lag_months=lag,
    )
    texts = {
        "sources": render.sources_yml(plan, found),
        "staging": render.staging_sql(plan, found),
        "staging_yml": render.models_yml(plan, "staging"),
        "features": render.features_sql(plan),
        "features_yml": render.models_yml(plan, "features"),
        "training_set": render.training_set_sql(plan),
        "scoring_input": render.scoring_input_sql(plan),
        "ml_yml": render.models_yml(plan, "ml"),
    }
    selectors = project.project_dir / "selectors.yml"
    current = selectors.read_text(encoding="utf-8")
    existing = [p for p in paths.values() if p.exists()]
    if render.begin_marker(name) in current:
        existing.append(selectors)
    if existing and not request.force:
        shown = ", ".join(str(p.relative_to(project.project_dir)) for p in existing)
        raise ScorehouseError(
            f"scaffold {name}: {shown} already exist(s); pass --force to overwrite, or choose "
            "another name"
        )
    for key, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[key], encoding="utf-8")
    selectors.write_text(
        _without_block(current, name).rstrip("\n") + "\n" + render.selectors_block(plan),
        encoding="utf-8",
    )
    log.info("scaffold %s: wrote %d files and 2 selectors", name, len(paths))
    proposed = render.proposed_classes(found)
    log.info(
        "scaffold %s: personal data proposed in %s (meta.pii; check it, docs/privacy.md): %s",
        name,
        paths["sources"].relative_to(project.project_dir),
        "; ".join(f"{pii}: {', '.join(cols)}" for pii, cols in proposed.items()) or "none",
    )

    ensure_manifest(project)
    if relation is None:  # a file: into the raw table(s) the new source declares
        loads = [(project.source(name, name), table)]
        if test is not None:
            loads.append((project.source(name, f"{name}_test"), test))
        with Warehouse.connect(project, create=True) as wh:
            wh.replace_tables(loads)
    run_dbt(project, "build", "--selector", f"{name}_features")
    kinds: dict[str, int] = {}
    for column in found.columns:
        kinds[column.kind] = kinds.get(column.kind, 0) + 1
    return Scaffolded(
        files=[*paths.values(), selectors],
        rows=table.num_rows,
        positives=found.positives,
        test_rows=test.num_rows if test is not None else 0,
        left_out=[f"{c.name} ({c.why})" for c in found.of_kind("left_out")],
        kinds=kinds,
    )
