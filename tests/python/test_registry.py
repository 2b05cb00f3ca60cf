import copy

import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.registry import load_registry, select_models

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
    ],
)
def test_bad_entries_name_exposure_and_key(overrides, message):
    with pytest.raises(ScorehouseError) as exc:
        load_registry(FakeProject([exposure(**overrides)]))
    assert "registry exposure 'churn_lgbm'" in str(exc.value)
    assert message in str(exc.value)


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


def test_project_registry_is_valid(warehouse):
    """The registry shipped in models/ parses and validates against the real manifest."""
    specs = load_registry(warehouse.project())
    assert specs["churn_lgbm"].training_set == "churn_training_set"
