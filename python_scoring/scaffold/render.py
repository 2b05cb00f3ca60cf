"""The dbt files the scaffold writes for a user's table NAME, as text:

    models/staging/NAME/_NAME__sources.yml     the raw table(s), with inferred tests
    models/staging/NAME/stg_NAME.sql           typed: booleans 0/1, numbers held as text cast,
    models/staging/NAME/_NAME__models.yml      the label 0/1, a month; tags
    models/features/NAME/NAME_features.sql     the model inputs: pass-through + your SQL
    models/features/NAME/_NAME__models.yml
    models/ml/NAME/NAME_training_set.sql       labelled rows and their split
    models/ml/NAME/NAME_scoring_input.sql      the rows to score
    models/ml/NAME/_NAME__models.yml           their tests, and the registry entry (exposure)

and the block of two selectors (NAME_features, NAME_marts) it appends to selectors.yml.
YAML goes through yaml.safe_dump, so no value of the user's can break it; SQL literals are
only values without quotes or backslashes (profile.py keeps the others out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from python_scoring.privacy import proposed_class
from python_scoring.scaffold.profile import Column, Profile

# words an unquoted column name must not be on any of DuckDB, PostgreSQL and Spark
RESERVED = frozenset(
    """all and any array as asc between both by case cast check collate column constraint
    create cross current_date current_time current_timestamp current_user default desc
    distinct do else end except false fetch for foreign from full grant group having
    in inner intersect interval into is join leading left like limit month natural not
    null offset on only or order outer over partition primary references right select
    session_user some split table then to trailing true union unique user using when
    where window with""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Plan:
    """What the user asked for, as the files name it."""

    name: str
    id_column: str
    label: str
    month_column: str | None  # None: a snapshot
    snapshot_month: str  # YYYY-MM-01, a snapshot's nominal month
    has_test_file: bool
    source_name: str  # the dbt source the staging model reads
    table_name: str
    test_table_name: str | None
    schema: str | None  # the raw schema (None: var raw_schema, default raw)
    identifier: str
    origin: str  # the file or table it came from
    search_auto: bool
    owner: str
    label_lag_months: int = 0  # monthly: months between the latest labelled and latest month


def sql_name(name: str) -> str:
    """The staging model's name for a loaded column: as it is when plain; a name that is a
    reserved word or starts with a digit gets a suffix or prefix."""
    if name in RESERVED:
        return f"{name}_"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return f"c_{name}"
    return name


def _raw(name: str) -> str:
    """A raw column in SQL: bare when plain, else quoted for the engine by dbt."""
    return name if sql_name(name) == name else f"{{{{ adapter.quote('{name}') }}}}"


_IN = " " * 12  # a case branch's indent in `final`


def _literals(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v + "'" for v in values)


def _expression(column: Column, plan: Plan) -> str | None:
    raw, out = _raw(column.name), sql_name(column.name)
    if column.kind == "id":
        return f"cast({raw} as {{{{ dbt.type_string() }}}}) as {out}"
    if column.kind == "label":
        return _label(column, raw, out)
    if column.kind == "month":
        return f"{{{{ month_start('{column.name}') }}}} as month"
    if column.kind == "boolean":
        return f"cast({raw} as integer) as {out}"
    if column.kind == "boolean_text":
        return (
            f"case\n{_IN}when {raw} in ({_literals(column.true_values)}) then 1\n"
            f"{_IN}when {raw} in ({_literals(column.false_values)}) then 0\n        end as {out}"
        )
    if column.kind == "number_text":
        text = f"trim(cast({raw} as {{{{ dbt.type_string() }}}}))"
        return f"cast(\n{_IN}nullif({text}, '') as {{{{ type_double() }}}}\n        ) as {out}"
    if column.kind in ("number", "text", "date"):
        return raw if raw == out else f"{raw} as {out}"
    return None  # left out


def _label(column: Column, raw: str, out: str) -> str:
    true = column.true_values
    if set(true) <= {"True", "False"} and not set(column.false_values) - {"True", "False"}:
        test = raw if true == ("True",) else f"not {raw}"
    elif all(re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", v) for v in (*true, *column.false_values)):
        test = f"{raw} in ({', '.join(true)})"
    else:
        test = f"{raw} in ({_literals(true)})"
    return (
        f"case\n{_IN}when {raw} is null then null\n{_IN}when {test} then 1\n{_IN}else 0\n"
        f"        end as {out}"
    )


class _Dumper(yaml.SafeDumper):
    """The project's YAML style: sequences indented under their key, no anchors."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data) -> bool:
        return True


def _dump(data: dict | list) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=88)


HEADER = "# written by `scorehouse scaffold {name}` from {origin}: yours to edit\n"


def _few_values(column: Column) -> bool:
    """A column that cannot single anyone out: a flag, a number, a date, or text of a few
    values (PhoneService: Yes/No is not a phone number)."""
    return column.kind not in ("text", "left_out") or bool(column.values)


def proposed_classes(profile: Profile) -> dict[str, list[str]]:
    """The columns per personal-data class the sources YAML proposes (meta.pii)."""
    classes: dict[str, list[str]] = {}
    for column in profile.columns:
        pii = proposed_class(column.name, column.kind == "id", _few_values(column))
        if pii:
            classes.setdefault(pii, []).append(column.name)
    return classes


def sources_yml(plan: Plan, profile: Profile) -> str:
    columns = []
    for column in profile.columns:
        tests: list = []
        if column.kind == "id" and not plan.has_test_file and not plan.month_column:
            tests = ["unique", "not_null"]
        elif column.kind == "id":
            tests = ["not_null"]
        elif column.kind in ("text", "label") and column.values:
            tests = [{"accepted_values": {"arguments": {"values": list(column.values)}}}]
        pii = proposed_class(column.name, column.kind == "id", _few_values(column))
        columns.append(
            {
                "name": column.name,
                **({"meta": {"pii": pii}} if pii else {}),
                **({"data_tests": tests} if tests else {}),
            }
        )
    tables = [{"name": plan.table_name, "identifier": plan.identifier, "columns": columns}]
    if plan.test_table_name:
        tables.append(
            {
                "name": plan.test_table_name,
                "identifier": plan.test_table_name,
                "description": "The test file: scored and evaluated, never trained on.",
                "columns": [{"name": c.name} for c in profile.columns if c.kind != "left_out"],
            }
        )
    source = {
        "name": plan.source_name,
        "description": (
            f"{plan.name}: loaded by `scorehouse scaffold` from {plan.origin} ({profile.rows} "
            f"rows); reload with `scorehouse load {plan.source_name}.{plan.table_name} FILE`."
        ),
        "schema": plan.schema or "{{ var('raw_schema', 'raw') }}",
        "tables": tables,
    }
    return HEADER.format(name=plan.name, origin=plan.origin) + _dump(
        {"version": 2, "sources": [source]}
    )


def staging_sql(plan: Plan, profile: Profile) -> str:
    lines = [e for c in profile.columns if (e := _expression(c, plan))]
    left_out = [f"--   {c.name}: {c.why}" for c in profile.of_kind("left_out")]
    if plan.month_column is None:
        lines.insert(1, f"cast('{plan.snapshot_month}' as date) as month")
    if plan.has_test_file:
        lines.append("split")
    select = ",\n        ".join(lines)
    source = f"{{{{ source('{plan.source_name}', '{plan.table_name}') }}}}"
    if plan.has_test_file:
        test = f"{{{{ source('{plan.source_name}', '{plan.test_table_name}') }}}}"
        cte = (
            "training_file as (\n"
            f"    select\n        *,\n        'train' as split\n    from {source}\n),\n\n"
            "test_file as (\n"
            f"    select\n        *,\n        'test' as split\n    from {test}\n),\n\n"
            "source as (\n"
            "    select * from training_file\n    union all\n    select * from test_file\n),\n"
        )
    else:
        cte = f"source as (\n    select * from {source}\n),\n"
    what = (
        "a snapshot: every row in one nominal month"
        if plan.month_column is None
        else f"months from {plan.month_column}"
    )
    comment = [
        f"-- {plan.name}, typed: booleans as 1/0, numbers held as text cast, the label "
        f"{plan.label} as 1/0",
        f"-- ({what}).",
    ]
    if left_out:
        comment += ["-- Left out of the model:", *left_out]
    return (
        "\n".join(comment)
        + f"\nwith\n\n{cte}\nfinal as (\n    select\n        {select}\n    from source\n)\n\n"
        # the right to erasure: ids `scorehouse forget` erased never come back (privacy.md)
        f"select * from final\nwhere {{{{ not_erased('{sql_name(plan.id_column)}') }}}}\n"
    )


def features_sql(plan: Plan) -> str:
    return (
        f"-- The inputs of model {plan.name}: every column of stg_{plan.name} but the id, month,\n"
        f"-- label and split is one. Add SQL features in `final`, after staging.*, e.g.\n"
        f"--     ln(staging.tenure + 1) as log_tenure,\n"
        f"with\n\nstaging as (\n    select * from {{{{ ref('stg_{plan.name}') }}}}\n),\n\n"
        "final as (\n    select\n        staging.*\n        -- your SQL features here\n"
        "    from staging\n)\n\nselect * from final\n"
    )


def training_set_sql(plan: Plan) -> str:
    features = f"{{{{ ref('{plan.name}_features') }}}}"
    label = sql_name(plan.label)
    if plan.month_column is not None:
        bucket = f"{{{{ hash_bucket('features.{sql_name(plan.id_column)}', 100) }}}}"
        return (
            f"-- The training set of model {plan.name}: the rows whose label is known. split:\n"
            "-- 'oot' for the latest labelled month (the out-of-time test), else 'test' for\n"
            "-- the var test_share of ids by a stable hash, else 'train'.\n"
            f"with\n\nfeatures as (\n    select * from {features}\n),\n\n"
            f"latest as (\n    select max(month) as month\n    from features\n"
            f"    where {label} is not null\n),\n\n"
            "final as (\n    select\n        features.*,\n        case\n"
            "            when features.month = latest.month then 'oot'\n"
            f"            when\n                {bucket}\n"
            "                < {{ (var('test_share') * 100) | round | int }}\n"
            "                then 'test'\n            else 'train'\n        end as split\n"
            f"    from features\n    cross join latest\n    where features.{label} is not null\n"
            ")\n\nselect * from final\n"
        )
    if plan.has_test_file:
        why = "-- split: 'train' the training file's rows, 'test' the test file's."
        select = "*"
    else:
        why = (
            "-- split: every row 'train' (a snapshot: evaluated by 5-fold cross-validation, "
            "then\n-- fitted on every row)."
        )
        select = "*,\n        'train' as split"
    return (
        f"-- The training set of model {plan.name}: the rows whose label is known.\n{why}\n"
        f"with\n\nfeatures as (\n    select * from {features}\n),\n\n"
        f"final as (\n    select\n        {select}\n    from features\n"
        f"    where {label} is not null\n)\n\nselect * from final\n"
    )


def scoring_input_sql(plan: Plan) -> str:
    features = f"{{{{ ref('{plan.name}_features') }}}}"
    if plan.month_column is None:
        return (
            f"-- The rows model {plan.name} scores: every row of the snapshot.\n"
            f"select * from {features}\n"
        )
    return (
        f"-- The rows model {plan.name} scores: the score month's (var score_month, default\n"
        f"-- the latest month).\nwith\n\nfeatures as (\n    select * from {features}\n),\n\n"
        f"final as (\n    select * from features\n"
        f"    where month = {{{{ score_month(ref('{plan.name}_features')) }}}}\n)\n\n"
        "select * from final\n"
    )


def _grain(plan: Plan) -> dict:
    """A monthly table's grain test: one row per id and month."""
    if not plan.month_column:
        return {}
    combination = [sql_name(plan.id_column), "month"]
    return {"data_tests": [{"unique_combination": {"arguments": {"combination": combination}}}]}


def _splits(plan: Plan) -> list[str]:
    return ["train", "test", "oot"] if plan.month_column else ["train", "test"]


def _key_tests(plan: Plan) -> list:
    keys = [sql_name(plan.id_column)] + (["month"] if plan.month_column else [])
    label = {
        "name": sql_name(plan.label),
        "data_tests": [{"accepted_values": {"arguments": {"values": [0, 1], "quote": False}}}],
    }
    if len(keys) == 1:
        return [{"name": keys[0], "data_tests": ["unique", "not_null"]}, label]
    return [{"name": keys[0], "data_tests": ["not_null"]}, label]


def models_yml(plan: Plan, layer: str) -> str:
    name = plan.name
    tags = {"config": {"tags": [name]}}
    if layer == "staging":
        models = [
            {
                "name": f"stg_{name}",
                "description": f"{name}'s table typed, one row per {plan.id_column}"
                + (" and month." if plan.month_column else "."),
                **tags,
                **_grain(plan),
                "columns": _key_tests(plan),
            }
        ]
        return HEADER.format(name=name, origin=plan.origin) + _dump(
            {"version": 2, "models": models}
        )
    if layer == "features":
        models = [
            {
                "name": f"{name}_features",
                "description": f"The inputs of model {name}: staging's columns and your SQL.",
                **tags,
            }
        ]
        return HEADER.format(name=name, origin=plan.origin) + _dump(
            {"version": 2, "models": models}
        )
    models = [
        {
            "name": f"{name}_training_set",
            "description": f"Model {name}'s labelled rows and their split.",
            **tags,
            **_grain(plan),
            "columns": [
                *_key_tests(plan),
                {
                    "name": "split",
                    "data_tests": [{"accepted_values": {"arguments": {"values": _splits(plan)}}}],
                },
            ],
        },
        {"name": f"{name}_scoring_input", "description": f"The rows {name} scores.", **tags},
    ]
    return HEADER.format(name=name, origin=plan.origin) + _dump(
        {"version": 2, "models": models, "exposures": [_exposure(plan)]}
    )


def _exposure(plan: Plan) -> dict:
    meta: dict = {
        "domain": plan.name,
        "scenario": plan.label,
        "entity": plan.id_column,
        "entity_id": sql_name(plan.id_column),
        "label": sql_name(plan.label),
        "training_set": f"{plan.name}_training_set",
        "scoring_input": f"{plan.name}_scoring_input",
    }
    if plan.month_column is None:
        # a snapshot: no later month to test on, and its label is of its own month
        meta.update(out_of_time=False, cv_folds=5, label_lag_months=0, train_months=1)
    else:
        # the label of a row's own month: the latest labelled month is out-of-time, and
        # the months after it (labels not yet known) are scored
        meta.update(cv_folds=0, train_months=6, label_lag_months=plan.label_lag_months)
    if plan.search_auto:
        meta["search"] = "auto"
    return {
        "name": plan.name,
        "label": f"{plan.name} ({plan.label})",
        "type": "ml",
        "maturity": "low",
        "description": (
            f"Probability of {plan.label} per {plan.id_column}, scaffolded from "
            f"{plan.origin}. No params: the default recipe (docs/registry.md)."
        ),
        "owner": {"name": plan.owner},
        "depends_on": [f"ref('{plan.name}_training_set')", f"ref('{plan.name}_scoring_input')"],
        "meta": {"scorehouse": meta},
    }


def selectors_block(plan: Plan) -> str:
    name = plan.name
    selectors = [
        {
            "name": f"{name}_features",
            "description": (
                f"{name} (scorehouse scaffold): the source's tests, staging, features, training "
                "set and scoring input. Run before `scorehouse train/score`."
            ),
            "definition": {
                "union": [
                    {"method": "tag", "value": name},
                    {"method": "source", "value": plan.source_name},
                ]
            },
        },
        {
            "name": f"{name}_marts",
            "description": f"What reads {name}'s scores: the ml tables' tests.",
            "definition": {
                "union": [
                    {"method": "tag", "value": f"{name}_marts"},
                    {"method": "source", "value": "ml"},
                ]
            },
        },
    ]
    body = _dump(selectors)
    indented = "".join(f"  {line}\n" if line else "\n" for line in body.splitlines())
    return f"{begin_marker(name)}\n{indented}{end_marker(name)}\n"


def begin_marker(name: str) -> str:
    return f"  # >>> scorehouse scaffold {name}"


def end_marker(name: str) -> str:
    return f"  # <<< scorehouse scaffold {name}"
