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

from python_scoring.dbt_runner import dbt_vars, run_dbt
from python_scoring.errors import ScorehouseError
from python_scoring.jobs import steps
from python_scoring.mining.rules import monthly_rule_sets
from python_scoring.project import Project
from python_scoring.registry import DEFAULT_DOMAIN

log = logging.getLogger(__name__)
STAGE_PREFIX = "scorehouse run:"  # the line that opens each stage on stdout


@dataclass(frozen=True)
class Selection:
    """What a cycle covers; None everywhere (the default) is the domain's whole month."""

    features: tuple[str, ...] | None = None  # dbt --select; default --selector <domain>_features
    models: tuple[str, ...] | None = None  # default: the domain's enabled models
    rule_sets: tuple[str, ...] | None = None  # default: the domain's enabled rule sets
    marts: tuple[str, ...] | None = None  # dbt --select; default --selector <domain>_marts


def run_cycle(
    project: Project,
    domain: str = DEFAULT_DOMAIN,
    month: dt.date | None = None,
    train: bool = False,
    marts: bool = True,
    quiet: bool = False,
    selection: Selection = Selection(),
) -> None:
    """Run the stages in order; raise ScorehouseError naming the stage that failed."""
    variables = dbt_vars(domain, score_month=month.isoformat() if month else None)

    def build(layer: str, select: tuple[str, ...] | None) -> tuple[str, Callable[[], None]]:
        args = ("--select", *select) if select else ("--selector", f"{domain}_{layer}")
        return f"dbt build {' '.join(args)}", lambda: run_dbt(
            project, "build", *args, dbt_var=variables, quiet=quiet
        )

    models = selection.models
    what = ", ".join(models) if models is not None else f"enabled {domain} models"
    stages: list[tuple[str, str, Callable[[], None]]] = [
        ("features", *build("features", selection.features)),
        (
            "train",
            f"{what}, all retrained" if train else f"{what} without a trained version",
            lambda: steps.train(project, models, domain, not quiet, only_untrained=not train),
        ),
        ("score", what, lambda: steps.score(project, models, domain, month, progress=not quiet)),
        (
            "rules",
            ", ".join(selection.rule_sets or ()) or f"enabled {domain} rule sets",
            lambda: _rules(project, domain, selection.rule_sets),
        ),
    ]
    skipped = {"train", "score"} if models == () else set()
    skipped |= {"rules"} if selection.rule_sets == () else set()
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
            "stage %s done in %.1fs (peak RSS so far %.2f GB)",
            name,
            time.perf_counter() - started,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # kB on Linux
        )
    print(f"{STAGE_PREFIX} {domain} done in {time.perf_counter() - clock:.1f}s", flush=True)
    if marts and selection == Selection() and not quiet:
        print()
        steps.summary(project, [domain])


def _rules(project: Project, domain: str, names: tuple[str, ...] | None) -> None:
    if names is None:
        names = tuple(spec.rule_set for spec in monthly_rule_sets(project, domain))
    if not names:
        print(f"no enabled {domain} rule set")
        return
    steps.rules(project, list(names))
