"""The model registry: dbt exposures of type `ml`, their `meta.scorehouse` block validated.

Every key is declared here with its type and default; an unknown key or a wrong type is
rejected with the exposure and the key named. docs/registry.md documents the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project

ALGORITHMS = ("lightgbm",)


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
    enabled: bool = True
    seed: int = 42
    threshold: float = 0.5

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
    "enabled": (bool,),
    "seed": (int,),
    "threshold": (int, float),
}
_REQUIRED = {"scenario", "entity_id", "label", "training_set", "scoring_input"}


def _spec_from_exposure(exposure: dict[str, Any], max_reasons: int) -> ModelSpec:
    name = exposure["name"]
    where = f"registry exposure '{name}'"
    meta = (exposure.get("meta") or {}).get("scorehouse")
    if not isinstance(meta, dict):
        raise ScorehouseError(f"{where} has no meta.scorehouse block")
    for key, value in meta.items():
        if key not in _TYPES:
            raise ScorehouseError(
                f"{where}: unknown key '{key}' (known: {', '.join(sorted(_TYPES))})"
            )
        expected = _TYPES[key]
        # bool is an int in Python; an int key must not accept true/false
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            names = " or ".join(t.__name__ for t in expected)
            raise ScorehouseError(
                f"{where}: key '{key}' must be {names}, got {type(value).__name__} {value!r}"
            )
    missing = sorted(_REQUIRED - meta.keys())
    if missing:
        raise ScorehouseError(f"{where}: missing required key(s) {', '.join(missing)}")
    spec = ModelSpec(name=name, **meta)
    if spec.algorithm not in ALGORITHMS:
        raise ScorehouseError(
            f"{where}: key 'algorithm' must be one of {', '.join(ALGORITHMS)}, "
            f"got '{spec.algorithm}'"
        )
    if spec.train_months < 1 or spec.pieces < 1:
        raise ScorehouseError(f"{where}: train_months and pieces must be >= 1")
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
    """All registry models by name (enabled or not), validated."""
    max_reasons = int(project.var("max_reasons", 5))
    specs = [_spec_from_exposure(e, max_reasons) for e in project.ml_exposures()]
    return {spec.name: spec for spec in specs}


def select_models(project: Project, name: str | None) -> list[ModelSpec]:
    """The model named by --model, or every enabled model of the registry."""
    registry = load_registry(project)
    if name is not None:
        if name not in registry:
            known = ", ".join(sorted(registry)) or "none"
            raise ScorehouseError(f"model '{name}' is not in the registry (known: {known})")
        return [registry[name]]
    enabled = [spec for spec in registry.values() if spec.enabled]
    if not enabled:
        raise ScorehouseError("the registry has no enabled model (dbt exposures of type ml)")
    return enabled
