import copy
import dataclasses
import json

import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.registry import DOMAINS, ModelSpec, load_registry, select_models

from .conftest import make_warehouse

BASE_META = {
    "scenario": "churn",
    "entity_id": "subscriber_id",
    "label": "churned",
    "training_set": "churn_training_set",
    "scoring_input": "churn_scoring_input",
    "params": {"n_estimators": 10},
    "train_months": 3,
    "n_reasons": 2,
}


class FakeProject:
    """The parts of Project the registry reads, over an in-memory manifest."""

    def __init__(self, exposures):
        self.exposures = exposures

    def ml_exposures(self):
        return self.exposures

    def var(self, name, default=None):
        return {"max_reasons": 5}.get(name, default)


def exposure(name="churn_lgbm", **overrides):
    meta = copy.deepcopy(BASE_META)
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return {
        "name": name,
        "type": "ml",
        "meta": {"scorehouse": meta},
        "depends_on": {
            "nodes": ["model.scorehouse.churn_training_set", "model.scorehouse.churn_scoring_input"]
        },
    }


def test_valid_entry_gets_defaults():
    spec = load_registry(FakeProject([exposure()]))["churn_lgbm"]
    assert spec.train_months == 3 and spec.algorithm == "lightgbm" and spec.pieces == 1
    assert spec.non_features == {"subscriber_id", "month", "churned", "split"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trian_months": 6}, "unknown key 'trian_months'"),
        ({"train_months": "6"}, "key 'train_months' must be int, got str"),
        ({"train_months": True}, "key 'train_months' must be int, got bool"),
        ({"composite_weight": "high"}, "key 'composite_weight' must be int or float"),
        ({"label": None}, "missing required key(s) label"),
        ({"algorithm": "xgboost"}, "key 'algorithm' must be one of lightgbm"),
        ({"n_reasons": 9}, "between 0 and 5"),
        ({"training_set": "other_set"}, "names model 'other_set', which is not in the exposure"),
        ({"iv_limit": "0.02"}, "key 'iv_limit' must be int or float, got str"),
        ({"r_limit": 1.5}, "r_limit in (0, 1]"),
        ({"imbalance": "oversample"}, "key 'imbalance' must be one of class_weight, smote, none"),
        ({"encoding": "woe"}, "encoding 'woe' is for algorithm logistic_regression"),
        ({"pairwise": {"top_k": 4, "ops": ["add"]}}, "pairwise: unknown key 'ops'"),
        ({"pairwise": {"operations": ["pow"]}}, "key 'operations' must be one of add, sub"),
        ({"pairwise": {"top_k": "5"}}, "pairwise: key 'top_k' must be int, got str"),
        ({"search": {"n_iter": 5}}, "search needs a non-empty 'space'"),
        ({"search": {"space": {"num_leaves": 31}}}, "search space 'num_leaves' must be"),
        ({"oot_month": "2025-13-01"}, "key 'oot_month' must be a date"),
        ({"oot_month": "2025-06-15"}, "'oot_month' must be the first day of a month"),
        ({"out_of_time": False}, "needs cv_folds >= 2"),
        ({"cv_folds": 1}, "cv_folds 0 (off) or >= 2"),
        ({"memory_budget_gb": 0}, "memory_budget_gb > 0"),
        ({"sample_over_budget": "yes"}, "key 'sample_over_budget' must be bool"),
        ({"search": "fast"}, "key 'search' must be auto or a block with a 'space', got 'fast'"),
        ({"search": "auto"}, "search: auto chooses the estimators and their settings itself"),
        ({"search_budget_seconds": 0}, "search_budget_seconds must be > 0"),
        ({"search_budget_seconds": "60"}, "key 'search_budget_seconds' must be int or float"),
        ({"encoding": "spline"}, "encoding 'spline' is for algorithm logistic_regression"),
    ],
)
def test_bad_entries_name_exposure_and_key(overrides, message):
    with pytest.raises(ScorehouseError) as exc:
        load_registry(FakeProject([exposure(**overrides)]))
    assert "registry exposure 'churn_lgbm'" in str(exc.value)
    assert message in str(exc.value)


def test_model_factory_keys_are_parsed():
    spec = load_registry(
        FakeProject(
            [
                exposure(
                    algorithm="logistic_regression",
                    params={"C": 0.5},
                    encoding="woe",
                    iv_limit=0.02,
                    r_limit=0.7,
                    pairwise={"top_k": 4, "operations": ["mul", "div"]},
                    imbalance="smote",
                    search={"space": {"C": {"low": 0.01, "high": 10, "log": True}}, "n_iter": 4},
                    oot_month="2025-06-01",
                    cv_folds=5,
                )
            ]
        )
    )["churn_lgbm"]
    assert spec.pairwise.top_k == 4 and spec.pairwise.operations == ("mul", "div")
    assert spec.search.n_iter == 4 and spec.search.cv == 3 and spec.search.scoring == "roc_auc"
    assert spec.oot_month.isoformat() == "2025-06-01" and spec.cv_folds == 5
    assert (spec.iv_limit, spec.r_limit, spec.imbalance) == (0.02, 0.7, "smote")


def test_defaults_of_a_new_model():
    """LightGBM chooses its trees (no n_estimators: features/boosting.py), no class
    weights unless asked, no search."""
    spec = load_registry(FakeProject([exposure(params=None)]))["churn_lgbm"]
    assert (spec.algorithm, spec.params, spec.imbalance, spec.search) == (
        "lightgbm",
        {},
        "none",
        None,
    )
    assert spec.search_budget_seconds == 120


def test_search_auto():
    spec = load_registry(
        FakeProject([exposure(search="auto", params=None, search_budget_seconds=45)])
    )["churn_lgbm"]
    assert spec.search.auto and spec.search.space == {} and spec.search.cv == 3
    assert spec.search_budget_seconds == 45
    spaced = load_registry(FakeProject([exposure(search={"space": {"num_leaves": [7]}})]))
    assert spaced["churn_lgbm"].search.auto is False


def test_early_stopping_params():
    """validation_share and patience tune the early-stopped LightGBM; with a number of
    trees in params there is no early stopping for them to tune."""
    early = {"validation_share": 0.3, "patience": 50, "learning_rate": 0.05}
    spec = load_registry(FakeProject([exposure(params=early)]))["churn_lgbm"]
    assert spec.params == early
    with pytest.raises(ScorehouseError) as exc:
        load_registry(FakeProject([exposure(params={"num_trees": 100, "patience": 50})]))
    assert str(exc.value) == (
        "registry exposure 'churn_lgbm': patience set the early stopping that chooses the "
        "number of trees, and num_trees fixes it: keep one or the other"
    )
    with pytest.raises(ScorehouseError, match="did you mean 'patience'"):
        load_registry(FakeProject([exposure(params={"patiense": 50})]))
    with pytest.raises(ScorehouseError, match="'patience' is not a parameter of RandomForest"):
        load_registry(FakeProject([exposure(algorithm="random_forest", params={"patience": 50})]))


@pytest.mark.parametrize(
    "params",
    [
        # LightGBM's own names and aliases reach the booster: accepted as written
        {"min_data_in_leaf": 20, "feature_fraction": 0.8, "eta": 0.1, "lambda_l2": 1.0},
        {"n_estimators": 50, "learning_rate": 0.1, "subsample": 0.8, "verbose": -1},
        {"num_iterations": 50, "bagging_freq": 1, "max_bin": 63, "extra_trees": True},
    ],
)
def test_lightgbm_params_by_any_documented_name_are_accepted(params):
    spec = load_registry(FakeProject([exposure(params=params)]))["churn_lgbm"]
    assert spec.params == params


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"params": {"n_estimators": 5, "learing_rate": 0.1}},
            "params key 'learing_rate' is not a parameter of LGBMClassifier (algorithm "
            "lightgbm): did you mean 'learning_rate'?",
        ),
        (
            {"algorithm": "random_forest", "params": {"max_feature": 0.5}},
            "params key 'max_feature' is not a parameter of RandomForestClassifier (algorithm "
            "random_forest): did you mean 'max_features'?",
        ),
        (
            {"algorithm": "logistic_regression", "params": {"zzz": 1}},
            "params key 'zzz' is not a parameter of LogisticRegression (algorithm "
            "logistic_regression): see the LogisticRegression documentation",
        ),
        (
            {"search": {"space": {"model__num_leafs": [7, 15]}}},
            "search space key 'num_leafs' is not a parameter of LGBMClassifier (algorithm "
            "lightgbm): did you mean 'num_leaves'?",
        ),
    ],
)
def test_unknown_estimator_params_are_refused(overrides, message):
    with pytest.raises(ScorehouseError) as exc:
        load_registry(FakeProject([exposure(**overrides)]))
    assert str(exc.value) == f"registry exposure 'churn_lgbm': {message}"


def test_search_keys_of_other_steps_are_left_to_the_search():
    spec = load_registry(
        FakeProject([exposure(search={"space": {"derive__top_k": [3, 4], "num_leaves": [7]}})])
    )["churn_lgbm"]
    assert set(spec.search.space) == {"derive__top_k", "num_leaves"}


def test_missing_meta_block():
    bad = exposure()
    bad["meta"] = {}
    with pytest.raises(ScorehouseError, match="no meta.scorehouse block"):
        load_registry(FakeProject([bad]))


def test_select_models_unknown_and_disabled():
    project = FakeProject([exposure(), exposure("old_model", enabled=False)])
    assert [s.name for s in select_models(project, None)] == ["churn_lgbm"]
    assert select_models(project, "old_model")[0].enabled is False
    with pytest.raises(ScorehouseError, match="'nope' is not in the registry"):
        select_models(project, "nope")


def test_select_models_by_domain():
    project = FakeProject(
        [exposure(), exposure("bank_model", domain="bank"), exposure("b2", domain="bank")]
    )
    assert [s.name for s in select_models(project, None)] == ["churn_lgbm"]
    assert [s.name for s in select_models(project, None, "bank")] == ["bank_model", "b2"]
    assert select_models(project, "bank_model", "telco")[0].domain == "bank"  # --model wins
    with pytest.raises(ScorehouseError, match="no enabled model of domain 'bank'.*bank, telco"):
        select_models(
            FakeProject([exposure(), exposure("x", domain="bank", enabled=False)]), None, "bank"
        )
    # any lower-case name is a domain (a scaffolded table's own); anything else is refused
    assert load_registry(FakeProject([exposure(domain="retail")]))["churn_lgbm"].domain == "retail"
    with pytest.raises(ScorehouseError, match="key 'domain' must be a lower-case name"):
        load_registry(FakeProject([exposure(domain="Retail Bank")]))


def test_rule_sets_are_not_models():
    rules = {"name": "r", "type": "ml", "meta": {"scorehouse_rules": {"rule_set": "x"}}}
    assert list(load_registry(FakeProject([exposure(), rules]))) == ["churn_lgbm"]


def test_project_registry_is_valid(warehouse):
    """The registry shipped in models/ parses and validates against the real manifest."""
    specs = load_registry(warehouse.project())
    assert specs["churn_lgbm"].training_set == "churn_training_set"


@pytest.fixture(scope="module")
def jinja_registry(tmp_path_factory):
    """What macros/ml/ml_registry.sql makes of the project's exposures (ml_registry of
    every domain) and its ml_registry_defaults(), rendered by dbt; and the Project whose
    manifest dbt wrote with it."""
    built = make_warehouse(tmp_path_factory.mktemp("registry"))
    calls = ", ".join(f"'{domain}': ml_registry('{domain}')" for domain in DOMAINS)
    inline = "{{ tojson({'defaults': ml_registry_defaults(), " + calls + "}) }}"
    output = built.dbt("compile", "--inline", inline, "--output", "json", "--quiet").stdout
    return json.loads(json.loads(output)["compiled"]), built.project()


def test_jinja_registry_defaults_are_pythons(jinja_registry):
    """registry.py owns the defaults; the macro's copy must equal them."""
    rendered, _ = jinja_registry
    python = {f.name: f.default for f in dataclasses.fields(ModelSpec)}
    assert rendered["defaults"] == {key: python[key] for key in rendered["defaults"]}


def test_jinja_registry_reads_the_exposures_as_python_does(jinja_registry):
    rendered, project = jinja_registry
    owners = {e["name"]: e["owner"]["name"] for e in project.ml_exposures()}
    specs = sorted(load_registry(project).values(), key=lambda spec: spec.name)
    for domain in DOMAINS:
        expected = [
            {
                "model_name": spec.name,
                "owner": owners[spec.name],
                **{
                    key: getattr(spec, key)
                    for key in (
                        "domain",
                        "scenario",
                        "entity",
                        "algorithm",
                        "composite_weight",
                        "threshold",
                        "training_set",
                        "entity_id",
                        "label",
                        "month_column",
                    )
                },
            }
            for spec in specs
            if spec.enabled and spec.domain == domain
        ]
        assert expected, domain
        assert rendered[domain] == expected, domain
