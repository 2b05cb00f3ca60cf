"""The bank jobs on another engine give what they give on DuckDB: the same labels,
holdings, clusters, rules and marts (used by the PostgreSQL and Spark suites)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .conftest import Built, normalised, query_frame

# small: the Spark run pays a JVM start per dbt / scorehouse command
CORPORATE, RETAIL, MONTHS = 800, 3_000, 4


def relation(built: Built, name: str) -> str:
    project = built.project()
    return project.source(*name.split(".")).sql if "." in name else project.model(name).sql


def table(built: Built, name: str, keys: list[str], columns: str = "*") -> pd.DataFrame:
    sql = f"select {columns} from {relation(built, name)}"
    if name == "customer_keys":  # every domain's entities: the bank's only (a shared warehouse)
        sql += (
            f" where entity_id in (select entity_id from {relation(built, 'ml.customer_clusters')}"
            f" union select customer_id from {relation(built, 'target_corporate_churn')})"
        )
    frame = normalised(query_frame(built, sql))
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def same(left: pd.DataFrame, right: pd.DataFrame, rtol: float = 1e-9) -> None:
    assert list(left.columns) == list(right.columns) or set(left.columns) == set(right.columns)
    right = right[list(left.columns)]
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            np.testing.assert_allclose(
                a.astype(float), b.astype(float), rtol=rtol, atol=1e-12, err_msg=column
            )
        else:
            assert [None if pd.isna(x) else str(x) for x in a] == [
                None if pd.isna(x) else str(x) for x in b
            ], column


def assert_bank_parity(duck: Built, other: Built) -> None:
    checks = [
        ("target_corporate_churn", ["customer_id", "month"], "customer_id, month, churned"),
        (
            "target_corporate_potential",
            ["customer_id", "month"],
            "customer_id, month, is_potential",
        ),
        ("retail_product_holdings", ["customer_id"], "*"),
        ("retail_cluster_features", ["customer_id"], "*"),
        ("corporate_churn_training_set", ["customer_id", "month"], "customer_id, month, split"),
        ("ml.customer_clusters", ["rule_set", "entity_id"], "rule_set, entity_id, cluster"),
        (
            "ml.association_rules",
            ["rule_set", "rule_id"],
            "rule_set, cluster, rule_id, antecedents, consequents, support, confidence, lift",
        ),
        (
            "cross_sell_recommendations",
            ["rule_set", "entity_key", "recommendation_rank"],
            "rule_set, entity_key, entity_masked, item, recommendation_rank, confidence",
        ),
        (
            "potential_customers_guangdong",
            ["customer_key"],
            "customer_key, customer_masked, company_name_masked, registered_address_masked, "
            "operating_address_masked",
        ),
        ("corporate_churn_warnings", ["customer_key"], "customer_key, customer_masked, score"),
        ("customer_keys", ["entity_key"], "entity_key, entity_id"),
    ]
    for name, keys, columns in checks:
        left, right = table(duck, name, keys, columns), table(other, name, keys, columns)
        assert len(left) > 0, name
        try:
            same(left, right, rtol=1e-6 if "score" in columns else 1e-9)
        except AssertionError as exc:
            raise AssertionError(f"{name} differs: {exc}") from exc
