"""`scorehouse run`: one domain's monthly cycle in one process.

features  dbt build --selector <domain>_features (staging, features, labels, training
          sets, scoring inputs, feature monitoring, with their tests)
train     the domain's enabled models: every one with --train, else those without a
          usable trained version
score     every enabled model of the domain
rules     the domain's enabled rule sets (clusters and association rules)
marts     dbt build --selector <domain>_marts

A stage that fails stops the cycle with one line naming it; later stages do not run (a
failing dbt test among the features stops it before training). The bank's file jobs run
the same cycle on a narrower `Selection`. Orchestrators that want each step as a task of
their own run the step commands instead (README).
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from python_scoring.dbt_runner import dbt_vars, ensure_manifest, run_dbt
from python_scoring.errors import ScorehouseError
from python_scoring.jobs import steps
from python_scoring.mining.rules import monthly_rule_sets
from python_scoring.project import Project
from python_scoring.registry import DEFAULT_DOMAIN, load_registry

log = logging.getLogger(__name__)
STAGE_PREFIX = "scorehouse run:"  # the line that opens each stage on stdout


@dataclass(frozen=True)
class Selection:
    """What a cycle covers. None (the default) is the domain's whole month: the selectors
    <domain>_features / <domain>_marts, the registry's enabled models and rule sets of the
    domain; an empty tuple of models or rule sets leaves their stages out."""

    features: tuple[str, ...] | None = None  # dbt --select arguments
    models: tuple[str, ...] | None = None
    rule_sets: tuple[str, ...] | None = None
    marts: tuple[str, ...] | None = None  # dbt --select arguments


def run_cycle(
    project: Project,
    domain: str = DEFAULT_DOMAIN,
    month: dt.date | None = None,
    train: bool = False,
    marts: bool = True,
    quiet: bool = False,
    selection: Selection = Selection(),
    summary: bool = False,
) -> None:
    """Run the stages in order; raise ScorehouseError naming the stage that failed. The
    stages with nothing to do for the domain (no enabled model, no rule set) are left out;
    `summary` prints the domain's summary at the end."""
    variables = dbt_vars(domain, score_month=month.isoformat() if month else None)
    models, rule_sets = selection.models, selection.rule_sets
    if models is None or rule_sets is None:  # the registry's, from an up-to-date manifest
        ensure_manifest(project)
        registry = load_registry(project).values()
        if models is None:
            models = tuple(s.name for s in registry if s.enabled and s.domain == domain)
        if rule_sets is None:
            rule_sets = tuple(s.rule_set for s in monthly_rule_sets(project, domain))

    def build(layer: str, select: tuple[str, ...] | None) -> tuple[str, Callable[[], None]]:
        args = ("--select", *select) if select is not None else ("--selector", f"{domain}_{layer}")
        return f"dbt build {' '.join(args)}", lambda: run_dbt(
            project, "build", *args, dbt_var=variables, quiet=quiet
        )

    what = ", ".join(models)
    stages: list[tuple[str, str, Callable[[], None]]] = [
        ("features", *build("features", selection.features)),
        (
            "train",
            f"{what}, all retrained" if train else f"{what} without a trained version",
            lambda: steps.train(project, models, domain, not quiet, only_untrained=not train),
        ),
        ("score", what, lambda: steps.score(project, models, domain, month, progress=not quiet)),
        ("rules", ", ".join(rule_sets), lambda: steps.rules(project, list(rule_sets))),
    ]
    skipped = {"train", "score"} if not models else set()
    skipped |= {"rules"} if not rule_sets else set()
    stages = [stage for stage in stages if stage[0] not in skipped]
    if marts:
        stages.append(("marts", *build("marts", selection.marts)))
    clock = time.perf_counter()
    for number, (name, what, action) in enumerate(stages, start=1):
        print(f"{STAGE_PREFIX} [{number}/{len(stages)}] {name}: {what}", flush=True)
        started = time.perf_counter()
        try:
            action()
        except ScorehouseError as exc:
            raise ScorehouseError(f"stage {name} failed, later stages not run: {exc}") from exc
        log.info(
            "stage %s done in %.1fs (the process's peak RSS so far %.2f GB)",
            name,
            time.perf_counter() - started,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # kB on Linux
        )
    print(f"{STAGE_PREFIX} {domain} done in {time.perf_counter() - clock:.1f}s", flush=True)
    if summary:
        print()
        steps.summary(project, [domain])
