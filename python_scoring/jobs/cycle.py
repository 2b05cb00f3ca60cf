"""`scorehouse run`: one domain's monthly cycle in one process.

features  dbt build --selector <domain>_features (staging, features, labels, training
          sets, scoring inputs, feature monitoring, with their tests)
train     the domain's enabled models: every one with --train, else those without a
          usable trained version; when one trained, dbt build --selector <domain>_training
          if the domain has that selector (telco: feature_iv, the IV of the training rows)
history   with --history N, the N months before the scored month as monthly operation
          would have run them: per month the models' training sets and scoring inputs
          rebuilt for it (dbt var score_month), the first month trains (in place of the
          train stage), every month is scored; then the sets are rebuilt for the month
score     every enabled model of the domain
rules     the domain's enabled rule sets (clusters and association rules)
requests  the online service's request log into ml.online_requests (when its spool
          directory exists: scorehouse ingest-requests)
marts     dbt build --selector <domain>_marts
snapshot  what `scorehouse serve` serves, as files (scoring.snapshot)
report    the HTML report of every domain (python_scoring.report), when a path is given

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
from pathlib import Path

from python_scoring.dbt_runner import dbt_vars, ensure_manifest, run_dbt
from python_scoring.errors import ScorehouseError
from python_scoring.jobs import steps
from python_scoring.mining.rules import monthly_rule_sets
from python_scoring.privacy import pseudonym_salt
from python_scoring.project import Project
from python_scoring.registry import DEFAULT_DOMAIN, load_registry
from python_scoring.warehouse import Warehouse

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
    history: int = 0,
    report: Path | None = None,
) -> None:
    """Run the stages in order; raise ScorehouseError naming the stage that failed. The
    stages with nothing to do for the domain (no enabled model, no rule set) are left out;
    `summary` prints the domain's summary at the end."""
    if marts:  # the BI marts need the salt: say so before the long stages, not after
        pseudonym_salt()
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

    def train_models() -> None:
        trained = steps.train(project, models, domain, not quiet, only_untrained=not train)
        if trained and f"{domain}_training" in project.manifest.get("selectors", {}):
            command, action = build("training", None)
            print(f"trained {', '.join(trained)}: {command}", flush=True)
            action()

    def score_history() -> None:
        specs = [load_registry(project)[name] for name in models]
        sets = [name for spec in specs for name in (spec.training_set, spec.scoring_input)]
        latest = month or _input_month(project, specs[0])
        for back in range(history, 0, -1):
            past = _months_before(latest, back)
            print(f"{STAGE_PREFIX} history {past}", flush=True)
            past_vars = dbt_vars(domain, score_month=past.isoformat())
            run_dbt(project, "build", "--select", *sets, dbt_var=past_vars, quiet=quiet)
            if back == history:
                train_models()
            steps.score(project, models, domain, past, progress=not quiet)
        run_dbt(project, "build", "--select", *sets, dbt_var=variables, quiet=quiet)

    stages: list[tuple[str, str, Callable[[], None]]] = [
        ("features", *build("features", selection.features)),
        (
            "train",
            f"{what}, all retrained" if train else f"{what} without a trained version",
            train_models,
        ),
        (
            "history",
            f"{history} month(s) before the scored month, trained at the first",
            score_history,
        ),
        ("score", what, lambda: steps.score(project, models, domain, month, progress=not quiet)),
        ("rules", ", ".join(rule_sets), lambda: steps.rules(project, list(rule_sets))),
    ]
    skipped = {"train", "history", "score"} if not models else set()
    skipped |= {"train"} if history else {"history"}
    skipped |= {"rules"} if not rule_sets else set()
    stages = [stage for stage in stages if stage[0] not in skipped]
    whole = selection == Selection()  # a domain's month, not a bank file job
    spool = steps.spool_dir(project, None)
    if marts and whole and models and spool.is_dir():
        stages.append(("requests", str(spool), lambda: steps.ingest_requests(project, None)))
    if marts:
        stages.append(("marts", *build("marts", selection.marts)))
    if whole and models:
        stages.append(("snapshot", domain, lambda: steps.snapshot(project, domain)))
    if report is not None:
        stages.append(("report", str(report), lambda: steps.report(project, report)))
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


def _input_month(project: Project, spec) -> dt.date:
    """The month the scoring input holds (the features stage built it for the scored month)."""
    relation = project.model(spec.scoring_input)
    with Warehouse.connect(project) as wh:
        found = wh.query_arrow(f"select max({spec.month_column}) as m from {relation.sql}")
    month = found.column(0)[0].as_py()
    if month is None:
        raise ScorehouseError(f"{relation} is empty: no month to score history before")
    return month


def _months_before(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)
