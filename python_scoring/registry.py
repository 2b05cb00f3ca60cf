"""The model registry: dbt exposures of type `ml`, their `meta.scorehouse` block validated.

Every key is declared here with its type and default; an unknown key or a wrong type is
rejected with the exposure and the key named. docs/registry.md documents the keys. The
SQL side (macros/ml/ml_registry.sql) reads some keys itself: its defaults must be these
(tests/python/test_registry.py compares them).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from python_scoring import contract
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project

ALGORITHMS = ("lightgbm", "random_forest", "logistic_regression")
ENCODINGS = ("onehot", "woe", "spline")
IMBALANCE = ("class_weight", "smote", "none")
PIECE_BY = ("last_digit", "hash", "position")
OPERATIONS = ("add", "sub", "mul", "div")
# the businesses of the synthetic data and the rule sets; a model's domain may also be a
# scaffolded table's name (selectors <domain>_features/_marts): `scorehouse train/score/run`
# take one domain at a time, and dbt's var `domain` picks the models the scoring marts cover
DOMAINS = ("telco", "bank")
DEFAULT_DOMAIN = "telco"


@dataclass(frozen=True)
class Pairwise:
    """Pairwise derivation: a+b, a-b, a*b, a/b among the top_k base features by IV."""

    top_k: int = 5
    operations: tuple[str, ...] = OPERATIONS


@dataclass(frozen=True)
class Search:
    """Randomized hyper-parameter search (cross-validated, folds grouped by entity id);
    `auto` (registry `search: auto`): a comparison of algorithm families instead
    (training/search.py)."""

    space: dict[str, Any]
    n_iter: int = 20
    cv: int = 3
    scoring: str = "roc_auc"
    auto: bool = False


@dataclass(frozen=True)
class ModelSpec:
    name: str
    scenario: str
    entity_id: str
    label: str
    training_set: str
    scoring_input: str
    entity: str = "subscriber"
    month_column: str = "month"
    algorithm: str = "lightgbm"
    params: dict[str, Any] = field(default_factory=dict)
    train_months: int = 6
    composite_weight: float = 1.0
    n_reasons: int = 3
    pieces: int = 1
    piece_by: str = "last_digit"
    enabled: bool = True
    seed: int = 42
    threshold: float = 0.5
    encoding: str = "onehot"
    bins: int = 10
    iv_limit: float = 0.0
    r_limit: float = 0.8
    pairwise: Pairwise | None = None
    imbalance: str = "none"
    search: Search | None = None
    # the time `search: auto` may spend starting candidates, over the whole run (the final
    # selection and one per cross-validation fold share it evenly)
    search_budget_seconds: float = 120.0
    memory_budget_gb: float = 8.0
    sample_over_budget: bool = True
    oot_month: dt.date | None = None
    out_of_time: bool = True
    cv_folds: int = 0
    domain: str = DEFAULT_DOMAIN
    # months between a row's month and the month its label is known: 1 for "next month"
    # labels (churn of m+1 on features of m), 0 for a label of the same month (the bank's)
    label_lag_months: int = 1

    @property
    def non_features(self) -> set[str]:
        """Columns of a training set / scoring input that are never model inputs."""
        return {self.entity_id, self.month_column, self.label, "split"}


_TYPES: dict[str, tuple[type, ...]] = {
    "scenario": (str,),
    "entity_id": (str,),
    "label": (str,),
    "training_set": (str,),
    "scoring_input": (str,),
    "entity": (str,),
    "month_column": (str,),
    "algorithm": (str,),
    "params": (dict,),
    "train_months": (int,),
    "composite_weight": (int, float),
    "n_reasons": (int,),
    "pieces": (int,),
    "piece_by": (str,),
    "enabled": (bool,),
    "seed": (int,),
    "threshold": (int, float),
    "encoding": (str,),
    "bins": (int,),
    "iv_limit": (int, float),
    "r_limit": (int, float),
    "pairwise": (dict,),
    "imbalance": (str,),
    "search": (dict, str),
    "search_budget_seconds": (int, float),
    "memory_budget_gb": (int, float),
    "sample_over_budget": (bool,),
    "oot_month": (str, dt.date),
    "out_of_time": (bool,),
    "cv_folds": (int,),
    "domain": (str,),
    "label_lag_months": (int,),
}
_PAIRWISE_TYPES: dict[str, tuple[type, ...]] = {"top_k": (int,), "operations": (list,)}
_SEARCH_TYPES: dict[str, tuple[type, ...]] = {
    "space": (dict,),
    "n_iter": (int,),
    "cv": (int,),
    "scoring": (str,),
}
_REQUIRED = {"scenario", "entity_id", "label", "training_set", "scoring_input"}


def check_keys(
    where: str,
    block: dict[str, Any],
    types: dict[str, tuple[type, ...]],
    required: Iterable[str] = (),
) -> None:
    """An exposure's meta block (or a block within it) against its declared keys: each key
    known and of its types, the required ones present. Models and rule sets (rules.py)
    both validate this way."""
    for key, value in block.items():
        if key not in types:
            raise ScorehouseError(
                f"{where}: unknown key '{key}' (known: {', '.join(sorted(types))})"
            )
        expected = types[key]
        # bool is an int in Python; an int key must not accept true/false
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            names = " or ".join(t.__name__ for t in expected)
            raise ScorehouseError(
                f"{where}: key '{key}' must be {names}, got {type(value).__name__} {value!r}"
            )
    missing = sorted(set(required) - block.keys())
    if missing:
        raise ScorehouseError(f"{where}: missing required key(s) {', '.join(missing)}")


def _one_of(where: str, key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ScorehouseError(
            f"{where}: key '{key}' must be one of {', '.join(allowed)}, got {value!r}"
        )


def _pairwise(where: str, block: dict[str, Any]) -> Pairwise:
    check_keys(f"{where}, pairwise", block, _PAIRWISE_TYPES)
    pairwise = Pairwise(**{**block, "operations": tuple(block.get("operations", OPERATIONS))})
    for op in pairwise.operations:
        _one_of(f"{where}, pairwise", "operations", op, OPERATIONS)
    if pairwise.top_k < 2 or not pairwise.operations:
        raise ScorehouseError(f"{where}: pairwise needs top_k >= 2 and at least one operation")
    return pairwise


def _search(where: str, block: dict[str, Any] | str) -> Search:
    if isinstance(block, str):
        if block != "auto":
            raise ScorehouseError(
                f"{where}: key 'search' must be auto or a block with a 'space', got {block!r}"
            )
        return Search(space={}, auto=True)
    check_keys(f"{where}, search", block, _SEARCH_TYPES)
    if not block.get("space"):
        raise ScorehouseError(f"{where}: search needs a non-empty 'space'")
    search = Search(**block)
    if search.n_iter < 1 or search.cv < 2:
        raise ScorehouseError(f"{where}: search needs n_iter >= 1 and cv >= 2")
    for param, values in search.space.items():
        if not (
            (isinstance(values, list) and values)
            or (isinstance(values, dict) and {"low", "high"} <= values.keys())
        ):
            raise ScorehouseError(
                f"{where}: search space '{param}' must be a non-empty list of values or "
                "{low, high[, log, integer]}"
            )
    return search


# the parameters of the early-stopped LightGBM (features/boosting.py) that LightGBM's
# LGBMClassifier does not have: they set the early stopping that chooses the trees
EARLY_STOPPING_PARAMS = ("validation_share", "patience")


def tree_count_names() -> frozenset[str]:
    """LightGBM's names for the number of trees (n_estimators and its aliases): LightGBM
    whose params name one is a plain LGBMClassifier, not the early-stopped one."""
    try:
        from lightgbm.basic import _ConfigAliases

        return frozenset(_ConfigAliases.get("num_iterations")) | {"n_estimators"}
    except (ImportError, AttributeError):  # a LightGBM without it: the documented names
        return frozenset({"n_estimators", "num_iterations", "num_boost_round", "num_trees"})


# each algorithm's estimator class (imported only to read its parameter names)
ESTIMATOR_CLASSES = {
    "lightgbm": ("lightgbm", "LGBMClassifier"),
    "random_forest": ("sklearn.ensemble", "RandomForestClassifier"),
    "logistic_regression": ("sklearn.linear_model", "LogisticRegression"),
}


@functools.cache
def estimator_parameters(algorithm: str) -> tuple[str, dict[str, str] | None]:
    """The estimator class's name and the parameter names it takes (None: unknown), each
    mapped to the name a did-you-mean suggests: its get_params() keys and, for LightGBM,
    which passes any other key on to the booster, LightGBM's documented parameters and
    their aliases (a minor alias suggests its get_params() or main name)."""
    module, name = ESTIMATOR_CLASSES[algorithm]
    cls = getattr(importlib.import_module(module), name)
    own = set(cls().get_params())
    if algorithm == "lightgbm":  # the early-stopped default's own (features/boosting.py)
        own |= set(EARLY_STOPPING_PARAMS)
    names = {key: key for key in own}
    if algorithm == "lightgbm":
        try:  # the C library's own list (lightgbm.basic resolves aliases with it)
            from lightgbm.basic import _ConfigAliases

            groups = _ConfigAliases._get_all_param_aliases()  # main name -> [main, *aliases]
        except (ImportError, AttributeError):  # a LightGBM without it: leave keys unchecked
            return name, None
        for main, group in groups.items():
            preferred = next((alias for alias in group if alias in own), main)
            for alias in group:
                names.setdefault(alias, alias if alias == main else preferred)
    return name, names


def _check_params(where: str, spec: ModelSpec) -> None:
    """`params` keys and the estimator keys of a search space (plain names, or
    model__name) must be parameters of the algorithm's estimator: a misspelt key would
    be ignored (LightGBM) or fail late."""
    if spec.search is not None and spec.search.auto and spec.params:
        raise ScorehouseError(
            f"{where}: search: auto chooses the estimators and their settings itself: remove "
            f"params ({', '.join(sorted(spec.params))}), or name an algorithm without search"
        )
    keys = [("params", key) for key in spec.params]
    if spec.search is not None:
        for key in spec.search.space:
            if "__" not in key or key.startswith("model__"):
                keys.append(("search space", key.removeprefix("model__")))
    if not keys:
        return
    estimator, known = estimator_parameters(spec.algorithm)
    if known is None:
        return
    for block, key in keys:
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1)
        fix = (
            f"did you mean '{known[close[0]]}'?" if close else f"see the {estimator} documentation"
        )
        raise ScorehouseError(
            f"{where}: {block} key '{key}' is not a parameter of {estimator} (algorithm "
            f"{spec.algorithm}): {fix}"
        )
    if spec.algorithm == "lightgbm":
        named = {key for _, key in keys}
        counts = sorted(named & tree_count_names())
        early = sorted(named & set(EARLY_STOPPING_PARAMS))
        if counts and early:
            raise ScorehouseError(
                f"{where}: {', '.join(early)} set the early stopping that chooses the number "
                f"of trees, and {', '.join(counts)} fixes it: keep one or the other"
            )


def _spec_from_exposure(exposure: dict[str, Any], max_reasons: int) -> ModelSpec:
    name = exposure["name"]
    where = f"registry exposure '{name}'"
    meta = (exposure.get("meta") or {}).get("scorehouse")
    if not isinstance(meta, dict):
        raise ScorehouseError(f"{where} has no meta.scorehouse block")
    check_keys(where, meta, _TYPES, _REQUIRED)
    values = dict(meta)
    if "pairwise" in values:
        values["pairwise"] = _pairwise(where, values["pairwise"])
    if "search" in values:
        values["search"] = _search(where, values["search"])
    if isinstance(values.get("oot_month"), str):
        try:
            values["oot_month"] = dt.date.fromisoformat(values["oot_month"])
        except ValueError as exc:
            raise ScorehouseError(
                f"{where}: key 'oot_month' must be a date (YYYY-MM-01), got {meta['oot_month']!r}"
            ) from exc
    spec = ModelSpec(name=name, **values)
    _one_of(where, "algorithm", spec.algorithm, ALGORITHMS)
    _one_of(where, "encoding", spec.encoding, ENCODINGS)
    _one_of(where, "imbalance", spec.imbalance, IMBALANCE)
    _one_of(where, "piece_by", spec.piece_by, PIECE_BY)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", spec.domain):
        # telco, bank, or a scaffolded table's own (selectors <domain>_features/_marts)
        raise ScorehouseError(
            f"{where}: key 'domain' must be a lower-case name (e.g. telco, bank), got "
            f"{spec.domain!r}"
        )
    _check_params(where, spec)
    if spec.encoding != "onehot" and spec.algorithm != "logistic_regression":
        raise ScorehouseError(
            f"{where}: encoding '{spec.encoding}' is for algorithm logistic_regression"
        )
    if spec.oot_month is not None and (spec.oot_month.day != 1 or not spec.out_of_time):
        raise ScorehouseError(
            f"{where}: key 'oot_month' must be the first day of a month, with out_of_time true"
        )
    if not 0 <= spec.iv_limit < 1 or not 0 < spec.r_limit <= 1:
        raise ScorehouseError(f"{where}: iv_limit must be in [0, 1) and r_limit in (0, 1]")
    if spec.bins < 2 or spec.memory_budget_gb <= 0 or spec.cv_folds < 0 or spec.cv_folds == 1:
        raise ScorehouseError(
            f"{where}: bins must be >= 2, memory_budget_gb > 0, cv_folds 0 (off) or >= 2"
        )
    if spec.search_budget_seconds <= 0:
        raise ScorehouseError(f"{where}: search_budget_seconds must be > 0")
    if not spec.out_of_time and not spec.cv_folds:
        raise ScorehouseError(
            f"{where}: a model without an out-of-time month needs cv_folds >= 2 to be evaluated"
        )
    if spec.train_months < 1 or spec.pieces < 1 or spec.label_lag_months < 0:
        raise ScorehouseError(
            f"{where}: train_months and pieces must be >= 1, label_lag_months >= 0"
        )
    if not 0 <= spec.n_reasons <= max_reasons:
        raise ScorehouseError(
            f"{where}: key 'n_reasons' must be between 0 and {max_reasons} "
            f"(the reason columns of ml.model_scores), got {spec.n_reasons}"
        )
    if not 0 < spec.threshold < 1:
        raise ScorehouseError(f"{where}: key 'threshold' must be between 0 and 1")
    if spec.composite_weight <= 0:
        raise ScorehouseError(
            f"{where}: key 'composite_weight' must be > 0 (disable the model with "
            "enabled: false to leave it out of the composite)"
        )
    depends = {node_id.split(".")[-1] for node_id in exposure["depends_on"]["nodes"]}
    for key in ("training_set", "scoring_input"):
        model = getattr(spec, key)
        if model not in depends:
            raise ScorehouseError(
                f"{where}: key '{key}' names model '{model}', which is not in the exposure's "
                f"depends_on ({', '.join(sorted(depends)) or 'empty'})"
            )
    return spec


def load_registry(project: Project) -> dict[str, ModelSpec]:
    """All registry models by name (enabled or not), validated: the ml exposures with a
    meta.scorehouse block (a meta.scorehouse_rules block is a rule set, see rules.py)."""
    max_reasons = contract.max_reasons(project)
    specs = [
        _spec_from_exposure(e, max_reasons)
        for e in project.ml_exposures()
        if "scorehouse_rules" not in (e.get("meta") or {})
    ]
    return {spec.name: spec for spec in specs}


def select_models(
    project: Project, name: str | None, domain: str = DEFAULT_DOMAIN
) -> list[ModelSpec]:
    """The model named by --model, or every enabled model of the registry's `domain`."""
    registry = load_registry(project)
    if name is not None:
        if name not in registry:
            known = ", ".join(sorted(registry)) or "none"
            raise ScorehouseError(f"model '{name}' is not in the registry (known: {known})")
        return [registry[name]]
    enabled = [spec for spec in registry.values() if spec.enabled and spec.domain == domain]
    if not enabled:
        domains = ", ".join(sorted({spec.domain for spec in registry.values()})) or "none"
        raise ScorehouseError(
            f"the registry has no enabled model of domain '{domain}' (dbt exposures of type "
            f"ml; domains: {domains})"
        )
    return enabled
