"""Customer data protection shared by every engine: the pseudonymisation salt (docs/privacy.md).

The salt comes from env SCOREHOUSE_PSEUDONYM_SALT and reaches each engine as a session
setting, never as text in SQL (so never in dbt's compiled SQL, logs or artifacts):
DuckDB's variable `scorehouse_pseudonym_salt` (set by the profile's plugin,
`python_scoring.warehouse.duckdb_privacy`), PostgreSQL's `scorehouse.pseudonym_salt`
(PGOPTIONS, set by `prepare_process` or by the operator) and on Spark the driver's
environment itself (`${env:SCOREHOUSE_PSEUDONYM_SALT}`, substituted before parsing). The
dispatched macro `pseudonymize` (macros/privacy/pseudonymize.sql) reads it there.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from python_scoring.errors import ScorehouseError
from python_scoring.project import LAYERS

SALT_ENV = "SCOREHOUSE_PSEUDONYM_SALT"
# the key of the embedded warehouse's encryption at rest (DuckDB; docs/privacy.md)
KEY_ENV = "SCOREHOUSE_DUCKDB_KEY"
# letters, digits and - _ . ~ + / = only: the salt travels in PGOPTIONS (space-separated)
# and in Spark's ${env:...} substitution; 16+ characters so that keys cannot be brute-forced
# from the (small) space of phone numbers
_SALT_PATTERN = re.compile(r"[A-Za-z0-9_.~+/=-]{16,}")


def pseudonym_salt(required: bool = True) -> str | None:
    """The salt from the environment, checked; None when unset and not `required`."""
    salt = os.environ.get(SALT_ENV, "")
    if not salt:
        if not required:
            return None
        raise ScorehouseError(
            f"{SALT_ENV} is not set: the BI marts carry pseudonymous keys made with it "
            "(a secret of 16+ characters, kept out of the repository; docs/privacy.md)"
        )
    if not _SALT_PATTERN.fullmatch(salt):
        raise ScorehouseError(
            f"{SALT_ENV} must be 16 or more characters of A-Z a-z 0-9 - _ . ~ + / = "
            f"(it has {len(salt)} characters)"
        )
    return salt


def warehouse_key() -> str | None:
    """The DuckDB warehouse's encryption key from the environment, checked; None when unset
    (the file is not encrypted)."""
    key = os.environ.get(KEY_ENV, "")
    if not key:
        return None
    if len(key) < 16 or key != key.strip():
        raise ScorehouseError(
            f"{KEY_ENV} must be 16 or more characters without leading or trailing spaces "
            f"(it has {len(key)} characters)"
        )
    return key


def pseudonymize(value: str, salt: str) -> str:
    """The key the SQL macro `pseudonymize` gives `value`: hex SHA-256 of salt, '|', value."""
    return hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()


def pgoptions(existing: str = "") -> str:
    """PGOPTIONS (read by libpq, hence by dbt-postgres and by python_scoring) with the salt
    as the session setting `scorehouse.pseudonym_salt` added, when the salt is set and
    PGOPTIONS does not set that already."""
    salt = pseudonym_salt(required=False)
    if salt is None or "scorehouse.pseudonym_salt=" in existing:
        return existing
    return f"{existing} -c scorehouse.pseudonym_salt={salt}".strip()


# what a column's name says about it, for `scorehouse scaffold`'s proposal (the user
# confirms or corrects the sources YAML): English words of the name (snake or camel case)
# or Chinese substrings; checked in this order, the first match wins
_NAME_CLASSES = (
    (
        "identifier",
        {"phone", "mobile", "msisdn", "email", "mail", "passport", "ssn", "idcard"},
        ("身份证", "手机", "电话", "邮箱"),
    ),
    (
        "sensitive",
        {"balance", "income", "salary", "health", "religion", "ethnicity", "debt"},
        ("存款", "收入", "余额", "健康"),
    ),
    (
        "personal",
        {
            "name",
            "address",
            "gender",
            "sex",
            "age",
            "birth",
            "birthday",
            "marital",
            "married",
            "education",
            "partner",
            "dependents",
            "senior",
        },
        ("姓名", "名称", "地址", "性别", "年龄", "学历", "婚姻", "出生"),
    ),
)


def proposed_class(name: str, is_id: bool = False, few_values: bool = False) -> str | None:
    """The personal-data class (meta.pii) a column suggests: the entity id is an
    identifier; otherwise by the words of its name (`_NAME_CLASSES`), where a column of a
    few distinct values (PhoneService: Yes/No) cannot identify anyone. None: nothing
    personal."""
    if is_id:
        return "identifier"
    words = set(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().replace("-", "_").split("_"))
    for pii, english, chinese in _NAME_CLASSES:
        if pii == "identifier" and few_values:
            continue
        if words & english or any(part in name for part in chinese):
            return pii
    return None


def identifier_names(manifest: dict) -> set[str]:
    """The column names the sources classify `identifier` (meta.pii), lower case: where a
    clear id may sit in any table (subscriber_id, customer_id, entity_id, ...)."""
    return {
        name.lower()
        for source in manifest["sources"].values()
        for name, column in source["columns"].items()
        if (
            (column.get("meta") or {}).get("pii")
            or (column.get("config") or {}).get("meta", {}).get("pii")
        )
        == "identifier"
    }


def inventory_rows(manifest: dict) -> list[dict[str, Any]]:
    """Per source table with a classified column: its columns by class and the models
    built from it (transitively, from dbt's graph) by layer, as {layer: [model, ...]}."""
    nodes, children = manifest["nodes"], manifest["child_map"]
    rows = []
    for key in sorted(manifest["sources"]):
        source = manifest["sources"][key]
        classes: dict[str, list[str]] = {}
        for name, column in source["columns"].items():
            pii = (column.get("meta") or {}).get("pii")
            if pii:
                classes.setdefault(pii, []).append(name)
        if not classes or source["name"] == "erasure_requests":  # a filter, not a flow
            continue
        seen, todo = set(), list(children.get(key, []))
        while todo:
            child = todo.pop()
            if child not in seen and child.startswith("model."):
                seen.add(child)
                todo.extend(children.get(child, []))
        by_layer: dict[str, list[str]] = {}
        for child in seen:
            fqn = nodes[child]["fqn"]
            by_layer.setdefault(fqn[1] if len(fqn) > 2 else "", []).append(fqn[-1])
        rows.append(
            {
                "table": f"{source['source_name']}.{source['name']}",
                **{c: sorted(classes.get(c, [])) for c in ("identifier", "personal", "sensitive")},
                "layers": {layer: sorted(by_layer[layer]) for layer in LAYERS if layer in by_layer},
            }
        )
    return rows


def inventory(manifest: dict) -> str:
    """The classified columns and where each source table's data flows, as Markdown
    (docs/privacy_inventory.md, `scorehouse privacy-inventory`); the marts BI reads carry
    its ids only as keys and masks (the build checks it)."""
    lines = [
        "# Personal data inventory",
        "",
        "Generated by `scorehouse privacy-inventory` from dbt's manifest: every source table",
        "with a column classified `meta: {pii: ...}`, and the models built from it, by layer",
        "(table-level lineage: a model downstream of the table, whichever of its columns it",
        "reads). In the marts BI reads, identifiers appear only as pseudonymous keys and masks",
        "(docs/privacy.md). Regenerate after changing sources or models:",
        "`scorehouse privacy-inventory --output docs/privacy_inventory.md`.",
        "",
        "| source table | identifier | personal | sensitive | " + " | ".join(LAYERS) + " |",
        "|---" * (4 + len(LAYERS)) + "|",
    ]
    for row in inventory_rows(manifest):
        cells = [", ".join(row[c]) for c in ("identifier", "personal", "sensitive")]
        layers = [", ".join(row["layers"].get(layer, [])) for layer in LAYERS]
        lines.append("| " + " | ".join([f"`{row['table']}`", *cells, *layers]) + " |")
    return "\n".join(lines) + "\n"
