"""Rule mining and clustering (python_scoring.mining.rules) without a warehouse."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlxtend.frequent_patterns import apriori, association_rules
from mlxtend.preprocessing import TransactionEncoder

from python_scoring.errors import ScorehouseError
from python_scoring.mining.rules import Clusters, _rule_set, choose_clusters, mine_rules, one_hot

GROCERIES = Path(__file__).resolve().parents[4] / "shared" / "data" / "groceries" / "groceries.csv"


def groceries_baskets() -> list[list[str]]:
    with GROCERIES.open(encoding="utf-8") as handle:
        return [[item.strip() for item in row if item.strip()] for row in csv.reader(handle)]


def long_items(baskets: list[list[str]]) -> pd.DataFrame:
    rows = [(str(n), item) for n, basket in enumerate(baskets, 1) for item in dict.fromkeys(basket)]
    return pd.DataFrame(rows, columns=["entity_id", "item"])


def test_groceries_rules_equal_mlxtend_run_directly():
    baskets = groceries_baskets()
    assert len(baskets) == 9835
    items = long_items(baskets)
    assert items["item"].nunique() == 169  # 171 without stripping ('cream cheese ')
    ours = mine_rules(one_hot(items, pd.Index(sorted(items["entity_id"].unique()))), 0.006, 0.25)
    assert len(ours) == 467

    encoder = TransactionEncoder()
    direct_baskets = pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
    frequent = apriori(direct_baskets, min_support=0.006, use_colnames=True)
    direct = association_rules(frequent, num_itemsets=len(baskets), min_threshold=0.25)
    key = ["antecedents", "consequents"]
    merged = ours.merge(direct, on=key, suffixes=("", "_direct"), validate="one_to_one")
    assert len(merged) == len(direct) == 467
    for metric in ("support", "confidence", "lift"):
        np.testing.assert_allclose(merged[metric], merged[f"{metric}_direct"], rtol=1e-12)

    top = ours.iloc[0]
    assert top["antecedents"] == frozenset({"root vegetables", "tropical fruit"})
    assert top["consequents"] == frozenset({"whole milk", "other vegetables"})
    assert round(top["support"], 5) == 0.00702
    assert round(top["confidence"], 4) == 0.3333
    assert round(top["lift"], 3) == 4.454


def test_rules_count_entities_holding_nothing_in_support():
    items = pd.DataFrame({"entity_id": ["1", "1", "2", "2"], "item": ["a", "b", "a", "b"]})
    entities = pd.Index(["1", "2", "3", "4"])  # 3 and 4 hold nothing
    rules = mine_rules(one_hot(items, entities), 0.1, 0.5)
    a_to_b = rules[rules["antecedents"] == frozenset({"a"})].iloc[0]
    assert a_to_b["support"] == 0.5
    assert a_to_b["confidence"] == 1.0
    assert a_to_b["lift"] == 2.0  # P(b) = 0.5
    assert pd.isna(a_to_b["conviction"])  # infinite for confidence 1: stored as null


def test_no_frequent_pair_gives_no_rules():
    items = pd.DataFrame({"entity_id": ["1", "2"], "item": ["a", "b"]})
    assert mine_rules(one_hot(items, pd.Index(["1", "2"])), 0.6, 0.5).empty


def test_silhouette_picks_the_planted_number_of_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]])
    points = np.vstack([c + rng.normal(0, 1, (300, 3)) for c in centres])
    pipeline, scores = choose_clusters(pd.DataFrame(points), Clusters(2, 7, 500), seed=1)
    assert pipeline[-1].n_clusters == 4
    assert max(scores, key=scores.get) == 4
    assert set(scores) == set(range(2, 8))


def test_too_few_entities_to_cluster():
    with pytest.raises(ScorehouseError, match="cannot be split into up to 8 clusters"):
        choose_clusters(pd.DataFrame(np.zeros((5, 2))), Clusters(), seed=1)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"rule_set": "x", "items_input": "m", "min_support": 0.1}, "missing required key"),
        (
            {"rule_set": "x", "items_input": "m", "min_support": 2, "min_confidence": 0.5},
            "must be in \\(0, 1\\]",
        ),
        (
            {
                "rule_set": "x",
                "items_input": "m",
                "min_support": 0.1,
                "min_confidence": 0.5,
                "suport": 1,
            },
            "unknown key",
        ),
        (
            {
                "rule_set": "x",
                "items_input": "m",
                "min_support": 0.1,
                "min_confidence": 0.5,
                "clusters": {"k_min": 5, "k_max": 3},
            },
            "k_min <= k_max",
        ),
        (
            {
                "rule_set": "x",
                "items_input": "m",
                "min_support": 0.1,
                "min_confidence": 0.5,
                "clusters": {"kmax": 3},
            },
            "clusters",
        ),
    ],
)
def test_bad_rule_set_entries_are_named(block, message):
    with pytest.raises(ScorehouseError, match=message) as error:
        _rule_set({"name": "my_rules", "meta": {"scorehouse_rules": block}})
    assert "my_rules" in str(error.value)
