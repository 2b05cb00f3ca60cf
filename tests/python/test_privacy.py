"""Customer data protection (docs/privacy.md): the classification, pseudonymous keys and
masks, and what BI can read.

The built-warehouse checks run on the e2e warehouse (the telco cycle); the build-failure
checks on a copy of the project with an empty warehouse (dbt's on-run-start creates the
ml tables a mart reads)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from python_scoring.privacy import pseudonymize

from .conftest import REPO, TEST_SALT, Built, assert_one_error_line, make_warehouse, query

pytestmark = pytest.mark.e2e


def _manifest(built: Built) -> dict:
    return json.loads((built.root / "target" / "manifest.json").read_text())


def identifier_columns(manifest: dict) -> dict[str, set[str]]:
    """Source columns by class (meta.pii), 'source.table.column' names."""
    classes: dict[str, set[str]] = {}
    for source in manifest["sources"].values():
        for column in source["columns"].values():
            pii = (column.get("meta") or {}).get("pii")
            if pii:
                name = f"{source['source_name']}.{source['name']}.{column['name']}"
                classes.setdefault(pii, set()).add(name)
    return classes


def bi_models(manifest: dict) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and (node["config"].get("meta") or {}).get("audience") == "bi"
    ]


def test_every_source_identifier_is_classified(warehouse):
    """The telco and ml sources classify their ids; every raw table that carries the
    subscriber id says so (a new feed without meta.pii would let ids pass unnoticed)."""
    classes = identifier_columns(_manifest(warehouse))
    telco = {c for c in classes["identifier"] if c.startswith("telco.")}
    assert telco == {
        f"telco.{table}.subscriber_id"
        for table in (
            "subscribers",
            "status_events",
            "usage_monthly",
            "billing_monthly",
            "tickets",
            "addon_purchases",
        )
    }
    assert {"ml.model_scores.entity_id", "ml.customer_clusters.entity_id"} <= classes["identifier"]
    assert "bank.corporate_registrations.company_name" in classes["personal"]
    assert "bank.retail_customers.deposit_balance" in classes["sensitive"]


def test_bi_marts_hold_no_clear_identifier(warehouse):
    """Every model BI reads, every column: no column named like a classified identifier,
    and no value of any text column equal to a clear id the warehouse holds."""
    manifest = _manifest(warehouse)
    identifiers = {name.rsplit(".", 1)[1] for name in identifier_columns(manifest)["identifier"]}
    ids = "(select subscriber_id from raw.subscribers union select entity_id from ml.model_scores)"
    (n_ids,) = query(warehouse, f"select count(*) from {ids}")[0]
    assert n_ids > 10_000
    scanned = columns = 0
    for node in bi_models(manifest):
        relation = f"{node['schema']}.{node['alias']}"
        described = query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = '{node['schema']}' and table_name = '{node['alias']}'",
        )
        if not described:  # a domain's mart this warehouse did not build (bank)
            continue
        scanned += 1
        for column, data_type in described:
            columns += 1
            assert column not in identifiers, f"{relation}.{column} is a clear identifier"
            if data_type == "VARCHAR":
                (hits,) = query(
                    warehouse, f'select count(*) from {relation} where "{column}" in {ids}'
                )[0]
                assert hits == 0, f"{relation}.{column} holds {hits} clear ids"
    assert scanned >= 8 and columns > 50  # composite, outcomes, deciles, monitoring, ...


def test_keys_are_the_documented_keyed_hash(warehouse):
    """restricted.customer_keys maps every scored id to sha256(salt | id), the key the BI
    marts carry; the composite mart's masks are 3 + **** + 4 characters."""
    rows = query(
        warehouse,
        "select k.entity_id, k.entity_key, c.entity_masked from marts.composite_scores c "
        "join restricted.customer_keys k on c.entity_key = k.entity_key limit 200",
    )
    assert len(rows) == 200
    for entity_id, key, masked in rows:
        assert key == pseudonymize(entity_id, TEST_SALT)
        assert masked == f"{entity_id[:3]}****{entity_id[-4:]}"
    (scored, mapped) = query(
        warehouse,
        "select count(distinct entity_id), count(distinct k.entity_key) from ml.model_scores "
        "left join restricted.customer_keys k using (entity_id)",
    )[0]
    assert scored == mapped > 10_000


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Built:
    """A copy of the dbt project over an empty DuckDB warehouse."""
    root = tmp_path_factory.mktemp("privacy")
    project = root / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "selectors.yml", "models", "macros", "seeds"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / name)
    built = make_warehouse(root / "warehouse")
    built.project_dir = project
    return built


def _mart(built: Built, name: str, sql: str) -> Path:
    """A throwaway BI mart without YAML: its contract is switched off (a mart under its
    contract would fail for the missing column list first), so the privacy check is what
    is tested."""
    path = built.project_dir / "models" / "marts" / "scoring" / f"{name}.sql"
    path.write_text("{{ config(contract={'enforced': false}) }}\n" + sql)
    return path


def test_a_clear_identifier_under_bi_fails_the_build(copy):
    """The post-hook of every BI model refuses a column named like a classified
    identifier, naming it; through pseudonymize() and a mask the same data builds."""
    leak = _mart(copy, "leak", "select entity_id, score from {{ source('ml', 'model_scores') }}")
    try:
        failed = copy.dbt("build", "--select", "leak", check=False)
        assert failed.returncode != 0
        assert "has the clear identifier column(s) entity_id" in failed.stdout
        _mart(
            copy,
            "leak",
            "select {{ pseudonymize('entity_id') }} as entity_key, "
            "{{ mask_identifier('entity_id') }} as entity_masked, score "
            "from {{ source('ml', 'model_scores') }}",
        )
        copy.dbt("build", "--select", "leak")
    finally:
        leak.unlink()


def test_pseudonymize_and_masks_give_the_documented_values(copy):
    """The macros on DuckDB against Python: keys, masks of ids, names and addresses
    (Chinese counted in characters), nulls kept (the engine parity tests compare the same
    macros on PostgreSQL and Spark over the demo data)."""
    values = ["13812349366", "C000123", "张三丰有限公司", "广东省深圳市南山区科技园路12号", None]
    rows = " union all ".join(
        f"select {i} as i, " + ("cast(null as varchar)" if v is None else f"'{v}'") + " as v"
        for i, v in enumerate(values)
    )
    masked = _mart(
        copy,
        "masked",
        f"with t as ({rows}) select i, {{{{ pseudonymize('v') }}}} as k, "
        "{{ mask_identifier('v') }} as m_id, {{ mask_name('v') }} as m_name, "
        "{{ mask_address('v') }} as m_address from t",
    )
    try:
        copy.dbt("build", "--select", "masked")
    finally:
        masked.unlink()
    got = {row[0]: row[1:] for row in query(copy, "select * from marts.masked")}
    for i, value in enumerate(values):
        if value is None:
            assert got[i] == (None, None, None, None)
            continue
        assert got[i][0] == pseudonymize(value, TEST_SALT)
        assert got[i][2] == value[0] + "**"
        assert got[i][3] == value[:6] + "***"
    assert [got[i][1] for i in range(4)] == [
        "138****9366",
        "****23",
        "****公司",
        "广东省****路12号",
    ]


def test_a_build_without_the_salt_names_it(copy):
    env = {**copy.env, "SCOREHOUSE_PSEUDONYM_SALT": ""}
    keyed = _mart(copy, "keyed", "select {{ pseudonymize(\"'13800000000'\") }} as k")
    try:
        failed = Built(copy.root, env, copy.project_dir).dbt(
            "build", "--select", "keyed", check=False
        )
    finally:
        keyed.unlink()
    assert failed.returncode != 0
    assert "SCOREHOUSE_PSEUDONYM_SALT is not set" in failed.stdout


def test_the_salt_is_in_no_file_and_no_table(warehouse):
    """The salt reaches the engine as a session setting only: no file the run wrote (dbt's
    compiled SQL and logs, run logs, artifacts, snapshots, the report, the warehouse
    file itself) and no text column of any table holds it."""
    salt = TEST_SALT.encode()
    files = [path for path in warehouse.root.rglob("*") if path.is_file()]
    assert len(files) > 100 and any(p.suffix == ".duckdb" for p in files)
    assert any("compiled" in p.parts for p in files) and any(p.suffix == ".log" for p in files)
    leaked = [str(path) for path in files if salt in path.read_bytes()]
    assert leaked == []
    texts = query(
        warehouse,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'",
    )
    assert len(texts) > 100
    for schema, table, column in texts:
        (hits,) = query(
            warehouse,
            f'select count(*) from "{schema}"."{table}" where "{column}" like \'%{TEST_SALT}%\'',
        )[0]
        assert hits == 0, f"{schema}.{table}.{column}"


def test_training_refuses_a_clear_identifier_among_the_features(warehouse, capsys):
    """A training set that carries a second id column (here the bank's customer_id, a
    classified identifier) is refused before loading, naming the column."""
    import duckdb

    path = warehouse.env["SCOREHOUSE_DUCKDB_PATH"]
    with duckdb.connect(path) as con:  # the training set is a view: one with the column
        con.execute("create table main.leaky_rows as select * from ml.churn_training_set")
        con.execute(
            "create or replace view ml.churn_training_set as "
            "select *, 'C0001' as customer_id from main.leaky_rows"
        )
    try:
        assert warehouse.scorehouse("train", "--model", "churn_lgbm") == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert "has customer_id, classified pii: identifier" in error
    finally:
        warehouse.dbt("build", "--select", "churn_training_set", "--quiet")
        with duckdb.connect(path) as con:
            con.execute("drop table main.leaky_rows")
    assert "customer_id" not in {
        c
        for (c,) in query(
            warehouse,
            "select column_name from information_schema.columns "
            "where table_name = 'churn_training_set'",
        )
    }


def test_scaffold_proposes_classes_from_names_and_values():
    from python_scoring.privacy import proposed_class

    assert proposed_class("customerID", is_id=True) == "identifier"
    assert proposed_class("mobile_number") == "identifier"
    assert proposed_class("客户手机") == "identifier"
    # a Yes/No column named like a phone cannot single anyone out
    assert proposed_class("PhoneService", few_values=True) is None
    assert [proposed_class(n) for n in ("gender", "SeniorCitizen", "Partner", "age")] == [
        "personal"
    ] * 4
    assert proposed_class("deposit_balance") == "sensitive"
    assert [proposed_class(n) for n in ("tenure", "usage_mb", "MonthlyCharges")] == [None] * 3


def test_the_inventory_in_the_docs_is_the_generated_one(warehouse):
    """docs/privacy_inventory.md is what `scorehouse privacy-inventory` writes from the
    project's manifest: a source or model changed without regenerating it fails here."""
    from python_scoring.privacy import inventory

    generated = inventory(_manifest(warehouse))
    assert "| `telco.subscribers` | subscriber_id | age_band, gender, region |" in generated
    assert (REPO / "docs" / "privacy_inventory.md").read_text(encoding="utf-8") == generated, (
        "regenerate: scorehouse privacy-inventory --output docs/privacy_inventory.md"
    )


# ---- encryption at rest (DuckDB, SCOREHOUSE_DUCKDB_KEY) ------------------------------------

TEST_KEY = "test-key-4Vb9nQ2-encrypt"
_BANK = ("generate", "--domain", "bank", "--corporate", "300", "--retail", "400", "--months", "3")


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory) -> tuple[Built, Built]:
    """The same generated bank data (a fixed seed) and its staging and features built by
    dbt, once in a plain warehouse and once in an encrypted one."""
    plain = make_warehouse(tmp_path_factory.mktemp("plain"))
    locked = make_warehouse(tmp_path_factory.mktemp("locked"), SCOREHOUSE_DUCKDB_KEY=TEST_KEY)
    for built in (plain, locked):
        assert built.scorehouse(*_BANK) == 0
        built.dbt("build", "--selector", "bank_features")
    return plain, locked


def test_the_encrypted_warehouse_file_holds_no_id_or_address(encrypted):
    """Ids and addresses are readable bytes of a plain DuckDB file and of no encrypted
    one (names are compressed either way, so they count only where they are found)."""
    plain, locked = encrypted
    rows = query(
        plain,
        "select customer_id, registered_address, company_name "
        "from raw.bank_corporate_registrations order by customer_id limit 200",
    )
    assert len(rows) == 200
    plain_bytes = Path(plain.env["SCOREHOUSE_DUCKDB_PATH"]).read_bytes()
    locked_files = [p for p in locked.root.iterdir() if p.name.startswith("warehouse.duckdb")]
    locked_bytes = b"".join(p.read_bytes() for p in locked_files)
    assert len(locked_bytes) > 500_000

    def hits(data: bytes, column: int) -> int:
        return sum(str(row[column]).encode() in data for row in rows)

    assert hits(plain_bytes, 0) == 200 and hits(plain_bytes, 1) == 200
    assert [hits(locked_bytes, column) for column in range(3)] == [0, 0, 0]
    # the catalog (table and column names) is encrypted too, and the key is not stored
    for word in (b"bank_corporate_registrations", b"registered_address"):
        assert word in plain_bytes and word not in locked_bytes
    assert TEST_KEY.encode() not in locked_bytes
    # and with the key, the same rows (python_scoring opens it as dbt did)
    assert query_encrypted(locked, rows[0][0]) == rows[0][1]


def query_encrypted(built: Built, customer_id: str) -> str:
    from python_scoring.warehouse._duckdb import DuckDBWarehouse

    old = os.environ.get("SCOREHOUSE_DUCKDB_KEY")
    os.environ["SCOREHOUSE_DUCKDB_KEY"] = built.env["SCOREHOUSE_DUCKDB_KEY"]
    try:
        warehouse = DuckDBWarehouse(
            {"path": built.env["SCOREHOUSE_DUCKDB_PATH"], "target_name": "duckdb"}
        )
        table = warehouse.query_arrow(
            "select registered_address from staging.stg_bank__corporate_registrations "
            f"where customer_id = '{customer_id}'"
        )
        warehouse.close()
    finally:
        os.environ.pop("SCOREHOUSE_DUCKDB_KEY")
        if old is not None:
            os.environ["SCOREHOUSE_DUCKDB_KEY"] = old
    return table.column(0)[0].as_py()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "is encrypted: set SCOREHOUSE_DUCKDB_KEY to its key"),
        ("wrong-key-wrong-key-0", "Wrong encryption key"),
        ("short", "SCOREHOUSE_DUCKDB_KEY must be 16 or more characters"),
    ],
    ids=["no-key", "wrong-key", "short-key"],
)
def test_the_encrypted_warehouse_refuses_a_missing_or_wrong_key_in_one_line(
    encrypted, key, message
):
    _, locked = encrypted
    env = {**locked.env, "SCOREHOUSE_DUCKDB_KEY": key}
    cli = Path(sys.executable).parent / "scorehouse"
    failed = subprocess.run(
        [str(cli), *locked.cli_args, "summary"],
        env=env,
        cwd=locked.project_dir,
        capture_output=True,
        text=True,
    )
    assert_one_error_line(failed, message)
    assert TEST_KEY not in failed.stderr + failed.stdout
    if key:
        assert key not in failed.stderr + failed.stdout


def test_the_key_is_in_no_log_or_artifact(encrypted):
    """The key reaches DuckDB as a bound parameter only: no file dbt or scorehouse wrote
    holds it."""
    _, locked = encrypted
    files = [p for p in locked.root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files) and any("compiled" in p.parts for p in files)
    assert [str(p) for p in files if TEST_KEY.encode() in p.read_bytes()] == []
