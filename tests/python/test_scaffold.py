"""`scorehouse scaffold`: a user's own table to a trained model with no file written by hand
(docs/own_data.md). Each test works on a copy of the dbt project (the scaffold writes
models and selectors) with its own embedded warehouse.

- the IBM Telco file (the real one) with the default recipe and with `search: auto`;
- a French-style pair of files (semicolons, decimal commas, VRAI/FAUX, no id column, a
  separate test file), trained on every training row and evaluated on the test file;
- what the scaffold refuses: a leaking column, a one-class label, a repeated id, a
  mis-delimited file, overwriting a previous scaffold.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import REPO, Built, make_warehouse, postgres_database, query

TELCO_CSV = REPO.parent / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv"
_PROJECT_FILES = ("dbt_project.yml", "selectors.yml", "models", "macros", "seeds", "analyses")
_PROJECT_FILES += (".sqlfluff",)

pytestmark = pytest.mark.e2e


def own_project(root: Path, target: str = "duckdb", **env: str) -> Built:
    """A copy of the dbt project and an empty warehouse beside it (`target`, `env`: an
    engine's profile target and settings)."""
    copy = root / "project"
    copy.mkdir(parents=True)
    for name in _PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            shutil.copy(source, copy / name)
    shutil.copytree(REPO / "tests" / "dbt", copy / "tests" / "dbt")
    built = make_warehouse(root / "warehouse", target, **env)
    built.project_dir = copy
    shutil.copy(built.root / "profiles.yml", copy / "profiles.yml")  # sqlfluff's templater
    return built


def run(built: Built, *args: str) -> tuple[int, str]:
    """The CLI in-process: exit status and what it printed (stdout and stderr)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        status = built.scorehouse(*args)
    return status, printed.getvalue()


def latest_run(built: Built, model: str) -> dict:
    frame = query(
        built,
        "select cv_auc, rows_train, rows_test, auc_test, model_version from ml.training_runs "
        f"where model_name = '{model}' order by finished_at desc limit 1",
    )
    return dict(
        zip(("cv_auc", "rows_train", "rows_test", "auc_test", "version"), frame[0], strict=True)
    )


# ---- the IBM Telco file, defaults only ----------------------------------------------------


@pytest.fixture(scope="module")
def telco(tmp_path_factory) -> Built:
    assert TELCO_CSV.is_file(), f"{TELCO_CSV} is missing (CI has ../shared beside the clone)"
    built = own_project(tmp_path_factory.mktemp("telco_own"))
    status, printed = run(
        built,
        "scaffold",
        "telco_own",
        "--from",
        str(TELCO_CSV),
        "--id",
        "customerID",
        "--label",
        "Churn=Yes",
    )
    assert status == 0, printed
    built.scaffold_output = printed
    return built


def test_the_scaffold_types_every_column_of_the_telco_file(telco):
    assert "7043 rows (1869 positive)" in telco.scaffold_output
    ((rows, ids, churned, blank, partners, fee),) = query(
        telco,
        "select count(*), count(distinct customer_id), sum(churn), "
        "sum(case when total_charges is null then 1 else 0 end), sum(partner), "
        "sum(monthly_charges) from staging.stg_telco_own",
    )
    raw = pd.read_csv(TELCO_CSV)
    assert (rows, ids, churned, blank) == (7043, 7043, 1869, 11)  # 11 blank TotalCharges
    assert partners == int((raw["Partner"] == "Yes").sum())  # Yes/No -> 1/0
    assert fee == pytest.approx(raw["MonthlyCharges"].sum())


def test_the_generated_files_pass_sqlfluff(telco):
    folders = [str(p) for p in telco.project_dir.glob("models/*/telco_own")]
    assert len(folders) == 3
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sqlfluff"), "lint", *folders],
        cwd=telco.project_dir,
        env=telco.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_defaults_reach_a_tuned_models_auc_on_the_telco_file(telco):
    status, printed = run(telco, "train", "--model", "telco_own")
    assert status == 0, printed
    found = latest_run(telco, "telco_own")
    # plain logistic regression on this file: ~0.845 (docs/own_data.md)
    assert found["cv_auc"] >= 0.845, found
    assert found["rows_train"] == 7043  # every row: a snapshot fits on all of its rows


def test_search_auto_reaches_0850_nested_on_the_telco_file(telco):
    status, printed = run(
        telco, "scaffold", "telco_auto", "--from", str(TELCO_CSV), "--id", "customerID",
        "--label", "Churn=Yes", "--search-auto",
    )  # fmt: skip
    assert status == 0, printed
    registry = (telco.project_dir / "models/ml/telco_auto/_telco_auto__models.yml").read_text()
    assert "search: auto" in registry
    status, printed = run(telco, "train", "--model", "telco_auto")
    assert status == 0, printed
    # the family comparison runs inside each outer fold: the figure is the procedure's
    assert latest_run(telco, "telco_auto")["cv_auc"] >= 0.850


def test_a_second_scaffold_of_the_same_name_overwrites_nothing(telco):
    staging = telco.project_dir / "models/staging/telco_own/stg_telco_own.sql"
    before = staging.read_text()
    status, printed = run(
        telco, "scaffold", "telco_own", "--from", str(TELCO_CSV), "--id", "customerID",
        "--label", "Churn=Yes", "--exclude", "gender",
    )  # fmt: skip
    assert status == 2 and "already exist" in printed and "--force" in printed
    assert staging.read_text() == before


# ---- a French file pair: semicolons, decimal commas, VRAI/FAUX, no id, a test file --------


def _french_rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    minutes = rng.gamma(4.0, 45.0, n).round(2)
    international = rng.random(n) < 0.2
    calls = rng.poisson(1.5, n)
    region = rng.choice(["Nord", "Sud", "Est", "Ouest"], n)
    logit = -4.0 + 0.012 * minutes + 1.4 * international + 0.6 * (calls >= 4)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "Minutes jour": [f"{m:.2f}".replace(".", ",") for m in minutes],
            "Forfait international": np.where(international, "VRAI", "FAUX"),
            "Appels service": calls,
            "Région": region,
            "Churn": np.where(churn, "VRAI", "FAUX"),
        }
    )


def _french_pair(built: Built) -> Built:
    """The pair scaffolded (--test, --row-id, a VRAI/FAUX label) and trained."""
    rng = np.random.default_rng(7)
    files = built.root / "files"
    files.mkdir()
    built.train_frame, built.test_frame = _french_rows(rng, 2400), _french_rows(rng, 600)
    for name, frame in (("train", built.train_frame), ("test", built.test_frame)):
        frame.to_csv(files / f"churn-{name}.csv", sep=";", index=False, encoding="utf-8")
    status, printed = run(
        built, "scaffold", "fr_churn", "--from", str(files / "churn-train.csv"),
        "--test", str(files / "churn-test.csv"), "--row-id", "--label", "Churn",
    )  # fmt: skip
    assert status == 0, printed
    status, printed = run(built, "train", "--model", "fr_churn")
    assert status == 0, printed
    return built


@pytest.fixture(scope="module")
def french(tmp_path_factory) -> Built:
    return _french_pair(own_project(tmp_path_factory.mktemp("fr_churn")))


@pytest.fixture(scope="module")
def french_on_spark(tmp_path_factory) -> Built:
    built = own_project(tmp_path_factory.mktemp("fr_churn_spark"), "spark_local")
    with built.hosted():  # scaffold and train in one JVM
        return _french_pair(built)


@pytest.fixture(scope="module")
def french_on_postgres(tmp_path_factory, postgres_server) -> Built:
    env = postgres_database(postgres_server, "scaffold")
    built = own_project(tmp_path_factory.mktemp("fr_churn_pg"), "postgres", **env)
    return _french_pair(built)


# the French pair's fixtures, one per engine
FRENCH_ON_EVERY_ENGINE = [
    "french",
    pytest.param("french_on_postgres", marks=pytest.mark.postgres),
    pytest.param("french_on_spark", marks=pytest.mark.spark),
]


@pytest.mark.parametrize("engine", FRENCH_ON_EVERY_ENGINE)
def test_semicolons_decimal_commas_and_vrai_faux_are_read_as_numbers_and_booleans(engine, request):
    french = request.getfixturevalue(engine)
    staged = query(
        french,
        "select row_id, minutes_jour, forfait_international, churn, split "
        "from ml.fr_churn_training_set order by cast(row_id as integer)",  # text ids
    )
    assert len(staged) == 3000
    frames = pd.concat([french.train_frame, french.test_frame], ignore_index=True)
    expected_minutes = frames["Minutes jour"].str.replace(",", ".").astype(float)
    assert [r[1] for r in staged] == pytest.approx(expected_minutes.tolist())
    assert [r[2] for r in staged] == (frames["Forfait international"] == "VRAI").astype(
        int
    ).tolist()
    assert [r[3] for r in staged] == (frames["Churn"] == "VRAI").astype(int).tolist()
    # --row-id numbers the training file 1..2400, the test file on from 2401
    assert [r[0] for r in staged] == [str(i) for i in range(1, 3001)]
    assert {r[4] for r in staged[:2400]} == {"train"} and {r[4] for r in staged[2400:]} == {"test"}


@pytest.mark.parametrize("engine", FRENCH_ON_EVERY_ENGINE)
def test_trained_on_every_training_row_and_evaluated_on_the_test_file(engine, request):
    french = request.getfixturevalue(engine)
    import joblib
    from sklearn.metrics import roc_auc_score

    found = latest_run(french, "fr_churn")
    assert (found["rows_train"], found["rows_test"]) == (2400, 600)
    frame = pd.DataFrame(
        query(french, "select * from ml.fr_churn_training_set where split = 'test'"),
        columns=[c for (c,) in query(french, "select column_name from information_schema.columns "
                                     "where table_schema = 'ml' and table_name = "
                                     "'fr_churn_training_set' order by ordinal_position")],
    )  # fmt: skip
    model_dir = french.root / "artifacts" / "fr_churn" / found["version"]
    pipeline = joblib.load(model_dir / "model.joblib")  # our own artifact, just trained
    by_hand = roc_auc_score(frame["churn"], pipeline.predict_proba(frame)[:, 1])
    assert found["auc_test"] == pytest.approx(by_hand, abs=1e-9)
    assert found["auc_test"] > 0.65  # the planted signal is found


# ---- refusals, each before any file is written ---------------------------------------------


@pytest.fixture()
def blank(tmp_path) -> Built:
    return own_project(tmp_path)


def _write(built: Built, frame: pd.DataFrame, name: str = "table.csv", **options) -> Path:
    path = built.root / name
    frame.to_csv(path, index=False, **options)
    return path


def _customers(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    churn = rng.random(n) < 0.3
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "tenure": rng.integers(1, 72, n),
            "plan": rng.choice(["basic", "plus"], n),
            "churn": np.where(churn, "Yes", "No"),
        }
    )


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        (
            lambda f: f.assign(churn_flag=np.where(f["churn"] == "Yes", "Y", "N")),
            (),
            "column churn_flag separates label churn perfectly",
        ),
        (lambda f: f.assign(churn="No"), (), "has a single class"),
        (
            lambda f: f.assign(customer_id=["C1", *f["customer_id"][1:]]).assign(
                customer_id=lambda g: g["customer_id"].where(g.index != 2, "C1")
            ),
            (),
            "is not unique",
        ),
        (lambda f: f, ("--exclude", "nothing_like_it"), "nothing_like_it not in the table"),
    ],
    ids=["leaking column", "one class", "repeated id", "unknown column"],
)
def test_refused_in_one_line_with_no_file_written(blank, change, args, message):
    path = _write(blank, change(_customers()))
    status, printed = run(
        blank, "scaffold", "mine", "--from", str(path), "--id", "customer_id",
        "--label", "churn=Yes", *args,
    )  # fmt: skip
    assert status == 2, printed
    error = [line for line in printed.splitlines() if line.startswith("scorehouse: error")]
    assert len(error) == 1 and message in error[0], printed
    assert not list(blank.project_dir.glob("models/*/mine"))
    assert "mine" not in (blank.project_dir / "selectors.yml").read_text()


def test_a_semicolon_file_read_with_a_comma_is_refused(blank):
    path = _write(blank, _customers(), sep=";")
    status, printed = run(
        blank, "scaffold", "mine", "--from", str(path), "--id", "customer_id",
        "--label", "churn=Yes", "--delimiter", ",",
    )  # fmt: skip
    assert status == 2 and "';'" in printed, printed
    assert not list(blank.project_dir.glob("models/*/mine"))


def test_a_warehouse_table_is_scaffolded_through_its_source(telco):
    status, printed = run(
        telco, "scaffold", "telco_tbl", "--from", "telco_own.telco_own", "--id", "customer_id",
        "--label", "churn=Yes", "--exclude", "gender,senior_citizen",
    )  # fmt: skip
    assert status == 0, printed
    sources = (telco.project_dir / "models/staging/telco_tbl/_telco_tbl__sources.yml").read_text()
    assert "identifier: telco_own" in sources  # the table itself, not a copy
    columns = {c for (c,) in query(telco, "select column_name from information_schema.columns "
                                   "where table_name = 'stg_telco_tbl'")}  # fmt: skip
    assert len(columns) == 21 - 2 + 1  # file columns - excluded + month
    assert {"gender", "senior_citizen"}.isdisjoint(columns)


def test_a_monthly_table_is_evaluated_out_of_time_and_scores_its_unlabelled_month(blank):
    rng = np.random.default_rng(11)
    months = []
    for month in range(1, 6):
        usage = rng.gamma(3.0, 20.0, 800)
        churn = rng.random(800) < 1 / (1 + np.exp(-(-1.0 - 0.06 * (usage - 60))))
        label = np.where(churn, 1, 0).astype(object) if month < 5 else [None] * 800
        months.append(
            pd.DataFrame(
                {"Id": range(800), "Month": f"20250{month}", "Usage": usage, "Left": label}
            )
        )
    path = _write(blank, pd.concat(months))
    status, printed = run(
        blank, "scaffold", "monthly", "--from", str(path), "--id", "Id", "--label", "Left",
        "--month", "Month",
    )  # fmt: skip
    assert status == 0, printed
    registry = (blank.project_dir / "models/ml/monthly/_monthly__models.yml").read_text()
    assert "label_lag_months: 1" in registry  # May has no labels yet: it is scored
    assert run(blank, "train", "--model", "monthly")[0] == 0
    ((oot, auc_oot),) = query(
        blank, "select oot_month, auc_oot from ml.training_runs where model_name = 'monthly'"
    )
    assert str(oot) == "2025-04-01" and auc_oot > 0.75
    assert run(blank, "score", "--model", "monthly")[0] == 0
    assert query(
        blank, "select score_month, count(*) from ml.model_scores where model_name = 'monthly' "
        "group by score_month",
    ) == [(pd.Timestamp("2025-05-01").date(), 800)]  # fmt: skip
