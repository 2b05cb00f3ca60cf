"""The columns and Arrow types of the ml.* tables python_scoring writes: the Python side of
macros/ml/ml_contract_tables.sql, which creates them (tests/python/test_contract.py checks
that the two agree on every engine).

Every writer builds its Arrow tables here (`table`), so what it writes has the contract's
types whatever Python inferred from the values: a column of nulls or an int among floats
are typed the same way on every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from python_scoring.project import Project

# dbt var max_reasons when the project sets none: the reason columns of ml.model_scores
MAX_REASONS = 5

_TEXT = pa.string()
_DOUBLE = pa.float64()
_INT = pa.int32()
_BIGINT = pa.int64()
_DATE = pa.date32()
_TIMESTAMP = pa.timestamp("us")  # naive: the macro's type_timestamp on every engine


# Per reason k of ml.model_scores: reason_k (the feature's name, as the estimator sees it),
# reason_k_value (the customer's value of the feature before encoding, as text) and
# reason_k_contribution (its push up, in the model's units: log-odds for LightGBM and
# logistic regression, probability for a random forest; features/reasons.py)
_REASON_PARTS = (("", _TEXT), ("_value", _TEXT), ("_contribution", _DOUBLE))


def reason_fields(n_reasons: int) -> list[tuple[str, pa.DataType]]:
    """The reason columns of ml.model_scores and their types: reason_k, reason_k_value,
    reason_k_contribution for k = 1 .. n_reasons."""
    return [
        (f"reason_{i}{suffix}", kind)
        for i in range(1, n_reasons + 1)
        for suffix, kind in _REASON_PARTS
    ]


def reason_columns(n_reasons: int) -> list[str]:
    """The names of `reason_fields`: three columns per reason."""
    return [name for name, _ in reason_fields(n_reasons)]


def model_scores_schema(n_reasons: int = MAX_REASONS) -> pa.Schema:
    """ml.model_scores with the columns of reasons 1 .. n_reasons (`reason_fields`)."""
    return pa.schema(
        [
            ("model_name", _TEXT),
            ("model_version", _TEXT),
            ("score_month", _DATE),
            ("entity_id", _TEXT),
            ("score", _DOUBLE),
            *reason_fields(n_reasons),
            ("scored_at", _TIMESTAMP),
        ]
    )


# scoring's staging table beside ml.model_scores holds its columns and these
# (Warehouse.create_piece_table)
PIECE_SCHEMA = pa.schema([("piece", _INT), ("pieces", _INT)])

_RULE_KEY = [("rule_set", _TEXT), ("run_id", _TEXT), ("cluster", _INT), ("rule_id", _INT)]

SCHEMAS: dict[str, pa.Schema] = {
    "model_scores": model_scores_schema(),
    "training_runs": pa.schema(
        [
            ("run_id", _TEXT),
            ("model_name", _TEXT),
            ("model_version", _TEXT),
            ("algorithm", _TEXT),
            ("train_months", _TEXT),
            ("oot_month", _DATE),
            ("rows_available", _BIGINT),
            ("sample_fraction", _DOUBLE),
            ("data_fingerprint", _TEXT),
            ("rows_train", _BIGINT),
            ("rows_test", _BIGINT),
            ("rows_oot", _BIGINT),
            ("positive_rate_train", _DOUBLE),
            ("auc_train", _DOUBLE),
            ("ks_train", _DOUBLE),
            ("auc_test", _DOUBLE),
            ("ks_test", _DOUBLE),
            ("auc_oot", _DOUBLE),
            ("ks_oot", _DOUBLE),
            ("cv_auc", _DOUBLE),
            ("features", _TEXT),
            ("dropped_features", _TEXT),
            ("derived_features", _TEXT),
            ("params", _TEXT),
            ("artifact_sha256", _TEXT),
            ("library_versions", _TEXT),
            ("started_at", _TIMESTAMP),
            ("finished_at", _TIMESTAMP),
        ]
    ),
    "score_baselines": pa.schema(
        [
            ("run_id", _TEXT),
            ("model_name", _TEXT),
            ("model_version", _TEXT),
            ("bin", _INT),
            ("upper_edge", _DOUBLE),
            ("baseline_share", _DOUBLE),
        ]
    ),
    "scoring_locks": pa.schema(
        [
            ("model_name", _TEXT),
            ("score_month", _DATE),
            ("run_id", _TEXT),
            ("host", _TEXT),
            ("pid", _BIGINT),
            ("started_at", _TIMESTAMP),
        ]
    ),
    "model_metrics": pa.schema(
        [
            ("run_id", _TEXT),
            ("model_name", _TEXT),
            ("model_version", _TEXT),
            ("split", _TEXT),
            ("metric", _TEXT),
            ("value", _DOUBLE),
        ]
    ),
    # the points of each evaluated split's curves (features/metrics.py, curves)
    "model_curves": pa.schema(
        [
            ("run_id", _TEXT),
            ("model_name", _TEXT),
            ("model_version", _TEXT),
            ("split", _TEXT),
            ("curve", _TEXT),
            ("point", _INT),
            ("x", _DOUBLE),
            ("y", _DOUBLE),
        ]
    ),
    "customer_clusters": pa.schema(
        [
            ("rule_set", _TEXT),
            ("run_id", _TEXT),
            ("entity_id", _TEXT),
            ("cluster", _INT),
            ("clustered_at", _TIMESTAMP),
        ]
    ),
    "association_rules": pa.schema(
        [
            *_RULE_KEY,
            ("antecedents", _TEXT),
            ("consequents", _TEXT),
            ("antecedent_count", _INT),
            ("consequent_count", _INT),
            ("support", _DOUBLE),
            ("confidence", _DOUBLE),
            ("lift", _DOUBLE),
            ("leverage", _DOUBLE),
            ("conviction", _DOUBLE),
            ("created_at", _TIMESTAMP),
        ]
    ),
    "association_rule_items": pa.schema([*_RULE_KEY, ("side", _TEXT), ("item", _TEXT)]),
    # the request log of `scorehouse serve`, one row per scored row of a request (a request
    # without rows, e.g. an error, one row with row_index null), loaded from the spool
    # files by serving/ingest.py: a file's rows are its slice (spool_file)
    "online_requests": pa.schema(
        [
            ("request_id", _TEXT),
            ("received_at", _TIMESTAMP),
            ("request_month", _DATE),
            ("endpoint", _TEXT),
            ("model_name", _TEXT),
            ("model_version", _TEXT),
            ("status", _INT),
            ("latency_ms", _DOUBLE),
            ("error", _TEXT),
            ("row_index", _INT),
            ("entity_id", _TEXT),
            ("score", _DOUBLE),
            ("features", _TEXT),
            ("spool_file", _TEXT),
            ("ingested_at", _TIMESTAMP),
        ]
    ),
    # `scorehouse forget`: the suppression list staging filters on (docs/privacy.md)
    "erasure_requests": pa.schema(
        [
            ("entity_id", _TEXT),
            ("requested_at", _TIMESTAMP),
            ("requested_by", _TEXT),
            ("reason", _TEXT),
        ]
    ),
    # every scorehouse command that reads or writes customer data (cli.py, docs/privacy.md)
    "audit_log": pa.schema(
        [
            ("started_at", _TIMESTAMP),
            ("os_user", _TEXT),
            ("host", _TEXT),
            ("command", _TEXT),
            ("arguments", _TEXT),
            ("outcome", _TEXT),
            ("message", _TEXT),
            ("duration_s", _DOUBLE),
        ]
    ),
}


def max_reasons(project: Project) -> int:
    """The project's dbt var max_reasons: how many reason columns ml.model_scores has."""
    return int(project.var("max_reasons", MAX_REASONS))


def schema(name: str, n_reasons: int = MAX_REASONS) -> pa.Schema:
    """The schema of ml.<name> (model_scores: with n_reasons reason columns)."""
    if name == "model_scores":
        return model_scores_schema(n_reasons)
    return SCHEMAS[name]


def table(
    name: str,
    data: Iterable[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    n_reasons: int = MAX_REASONS,
) -> pa.Table:
    """A typed Arrow table of ml.<name> in the contract's column order, from rows (dicts)
    or from columns (name -> values). Absent columns are null; a column the table does
    not have is an error (a typo would otherwise be dropped silently)."""
    target = schema(name, n_reasons)
    if isinstance(data, Mapping):
        _known(name, target, data.keys())
        rows = len(next(iter(data.values()))) if data else 0
        arrays = [
            pa.array(data[f.name], f.type) if f.name in data else pa.nulls(rows, f.type)
            for f in target
        ]
        return pa.Table.from_arrays(arrays, schema=target)
    records = list(data)
    _known(name, target, {key for record in records for key in record})
    return pa.Table.from_pylist(records, schema=target)


def _known(name: str, target: pa.Schema, columns: Iterable[str]) -> None:
    unknown = sorted(set(columns) - set(target.names))
    if unknown:
        raise ValueError(f"ml.{name} has no column(s) {', '.join(unknown)}")
