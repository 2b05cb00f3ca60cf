"""The report's sections as figures and tables (report/data.py's numbers -> charts.py's
SVG), rendered by the template beside this file into one HTML page. Every figure has a
one-line reading and its numbers in a table; tables carry `data-table` names and figures
`data-figure` names, which the browser test reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from python_scoring.report.charts import (
    Band,
    Series,
    bar_chart,
    heatmap,
    line_chart,
    number,
    scatter,
)
from python_scoring.report.data import ModelCard, ReportData

SPLIT_NAMES = {"train": "train", "test": "in-time test", "oot": "out-of-time"}
PSI_BANDS = [
    Band(0.10, 0.25, "band-warn", "warn: PSI 0.10 .. 0.25"),
    Band(0.25, 10.0, "band-error", "error: PSI above 0.25"),
]


@dataclass
class Table:
    name: str  # data-table
    headers: list[str]
    rows: list[list[Any]]
    marked: set[int] = field(default_factory=set)  # rows to highlight

    def cell(self, value: Any) -> str:
        if isinstance(value, float | int) and not isinstance(value, bool):
            return number(value)
        return "" if value is None else str(value)


@dataclass
class Figure:
    name: str  # data-figure
    title: str
    reading: str  # what the chart shows, in one line
    chart: Markup | None = None
    table: Table | None = None
    collapsed: bool = False  # the table under "numbers" even without a chart

    @property
    def wide(self) -> bool:
        """A table of many columns spans the page's width."""
        return self.chart is None and self.table is not None and len(self.table.headers) > 4


@dataclass
class Section:
    id: str
    title: str
    intro: str
    blocks: list[Figure | Table]


def _split_label(split: str) -> str:
    return SPLIT_NAMES.get(split, split)


def _splits(card: ModelCard) -> list[str]:
    """The evaluated splits: train, test, oot, then evaluate:<name> ones (not cv, which has
    only its AUC, in the facts)."""
    order = ["train", "test", "oot"]
    evaluated = [s for s in card.metrics if s != "cv"]
    return sorted(evaluated, key=lambda s: (order.index(s) if s in order else 9, s))


# ---- overview ---------------------------------------------------------------------------


def _overview(data: ReportData) -> Section:
    blocks: list[Figure | Table] = []
    domains = Table("domains", ["domain", "latest month", "models", "ok", "warn", "error"], [])
    for domain in data.domains:
        cards = [c for c in data.cards if c.spec.domain == domain]
        domains.rows.append(
            [
                domain,
                data.latest_month.get(domain),
                len(cards),
                *(sum(c.status == s for c in cards) for s in ("ok", "warn", "error")),
            ]
        )
    blocks.append(domains)
    models = Table(
        "models",
        [
            "model",
            "domain",
            "algorithm",
            "version",
            "out-of-time AUC",
            "latest month",
            "PSI vs previous",
            "PSI vs training",
            "status",
            "why",
        ],
        [],
    )
    for i, card in enumerate(data.cards):
        run, latest = card.run or {}, card.monitoring[-1] if card.monitoring else {}
        models.rows.append(
            [
                card.spec.name,
                card.spec.domain,
                run.get("algorithm", card.spec.algorithm),
                run.get("model_version"),
                run.get("auc_oot"),
                latest.get("score_month"),
                latest.get("psi_vs_previous"),
                latest.get("psi_vs_training"),
                card.status,
                "; ".join(card.status_why),
            ]
        )
        if card.status in ("warn", "error"):
            models.marked.add(i)
    blocks.append(models)
    counts = defaultdict(int)
    for test in data.tests:
        counts[test["status"]] += 1
    failing = [t for t in data.tests if t["status"] in ("fail", "error", "warn")]
    blocks.append(
        Figure(
            "dbt-tests",
            "dbt tests of the last builds",
            (
                f"{len(data.tests)} tests recorded: "
                + ", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "fail", "error"))
                + (f"; not passing: {', '.join(t['name'] for t in failing[:5])}" if failing else "")
            )
            if data.tests
            else "No test results recorded yet: `scorehouse run` records every dbt build's tests.",
            table=Table(
                "dbt-tests",
                ["test", "model", "status", "failures", "message", "run at"],
                [
                    [t["name"], t["model"], t["status"], t["failures"], t["message"], t["at"]]
                    for t in failing or data.tests
                ],
                marked={i for i, t in enumerate(failing)},
            ),
            collapsed=not failing,  # every test passed: listed under "numbers"
        )
    )
    per_layer: dict[str, int] = defaultdict(int)
    for row in data.layers:
        per_layer[row["layer"]] += row["row_count"]
    if data.layers:
        blocks.append(
            Figure(
                "layer-rows",
                "Rows per layer",
                f"{len(data.layers)} tables hold {sum(per_layer.values()):,} rows; the largest "
                f"layer is {max(per_layer, key=per_layer.get)}.",
                bar_chart(
                    list(per_layer),
                    {"rows": list(per_layer.values())},
                    kind="layer-rows",
                    x_label="rows",
                    y_label="layer",
                    horizontal=True,
                ),
                Table(
                    "layer-rows",
                    ["layer", "table", "rows"],
                    [[r["layer"], r["table_name"], r["row_count"]] for r in data.layers],
                ),
            )
        )
    return Section(
        "overview",
        "Overview",
        "Per domain the latest month and each model's status: error or warn when the "
        "latest month's score PSI leaves its band (0.10 / 0.25) or the AUC of the latest "
        "month with matured labels falls more than 0.05 / 0.10 below training.",
        blocks,
    )


# ---- model cards ------------------------------------------------------------------------


def _card(card: ModelCard, iv: dict[str, float]) -> Section:
    """`iv`: the feature_iv mart's IV of each column for the model's scenario (kept input
    features; training records the IV of dropped and derived ones itself)."""
    spec, run = card.spec, card.run or {}
    name = spec.name
    features = card.json_field("features") or []
    dropped = card.json_field("dropped_features") or []
    derived = card.json_field("derived_features") or []
    facts = Table(
        f"facts-{name}",
        ["fact", "value"],
        [
            ["domain / scenario", f"{spec.domain} / {spec.scenario}"],
            ["algorithm", run.get("algorithm")],
            ["version", run.get("model_version")],
            ["trained", run.get("finished_at")],
            ["training months", run.get("train_months")],
            ["out-of-time month", run.get("oot_month")],
            ["rows available", run.get("rows_available")],
            ["sample fraction", run.get("sample_fraction")],
            [
                "rows train / test / out-of-time",
                " / ".join(number(run.get(f"rows_{s}")) for s in ("train", "test", "oot")),
            ],
            ["cross-validated AUC", run.get("cv_auc")],
            ["threshold", spec.threshold],
            ["data fingerprint", run.get("data_fingerprint")],
            ["artifact sha256", run.get("artifact_sha256")],
            ["params", run.get("params")],
            ["library versions", run.get("library_versions")],
        ],
    )
    blocks: list[Figure | Table] = [facts]
    feature_rows = [[f, "kept", iv.get(f)] for f in features]
    feature_rows += [[_name(d), "dropped", _iv(d)] for d in dropped]
    feature_rows += [[_name(d), "derived", _iv(d)] for d in derived]
    blocks.append(
        Figure(
            f"features-{name}",
            "Features",
            f"{len(features)} input features kept, {len(dropped)} dropped below iv_limit "
            f"{spec.iv_limit:g}, {len(derived)} derived.",
            table=Table(f"features-{name}", ["feature", "use", "IV"], feature_rows),
        )
    )
    splits = _splits(card)
    metric_names = [
        "rows",
        "positive_rate",
        "auc",
        "ks",
        "gini",
        "lift_top10",
        "precision_at_threshold",
        "recall_at_threshold",
    ]
    blocks.append(
        Table(
            f"metrics-{name}",
            ["split", *metric_names],
            [[split, *(card.metrics[split].get(m) for m in metric_names)] for split in splits],
        )
    )
    blocks += _curve_figures(card, splits)
    return Section(
        f"model-{name}",
        f"Model {name}",
        f"Model card of {name}: the latest training run, its evaluation per split and its curves.",
        blocks,
    )


def _name(entry: Any) -> str:
    return entry.get("name", json.dumps(entry)) if isinstance(entry, dict) else str(entry)


def _iv(entry: Any) -> float | None:
    return entry.get("iv") if isinstance(entry, dict) else None


def _at(points: list[tuple[float, float]], x: float) -> float | None:
    """y of the point nearest to x (curves are recorded every 1 % of customers)."""
    return min(points, key=lambda p: abs(p[0] - x))[1] if points else None


def _curve(card: ModelCard, split: str, curve: str) -> list[tuple[float, float]]:
    return card.curves.get(split, {}).get(curve, [])


def _curve_figures(card: ModelCard, splits: list[str]) -> list[Figure]:
    name, out = card.spec.name, []
    curved = [s for s in splits if card.curves.get(s)]
    last = curved[-1] if curved else (splits[-1] if splits else None)
    auc = {s: card.metrics[s].get("auc") for s in splits}
    ks = {s: card.metrics[s].get("ks") for s in splits}
    if curved:
        out.append(
            Figure(
                f"roc-{name}",
                "ROC curve",
                f"{_split_label(last)} AUC {number(auc[last])}: a random positive outranks a "
                f"random negative {100 * (auc[last] or 0):.1f}% of the time "
                f"({', '.join(f'{_split_label(s)} {number(auc[s])}' for s in splits)}).",
                line_chart(
                    [Series(_split_label(s), _curve(card, s, "roc")) for s in curved],
                    kind="roc",
                    x_label="false positive rate",
                    y_label="true positive rate",
                    x_range=(0, 1),
                    y_range=(0, 1),
                    diagonal=True,
                ),
                Table(
                    f"roc-{name}",
                    ["split", "AUC", "KS", "points"],
                    [[s, auc[s], ks[s], len(_curve(card, s, "roc"))] for s in curved],
                ),
            )
        )
        gap = max(_curve(card, last, "ks") or [(0.0, 0.0)], key=lambda p: p[1])
        gains, ks_gap = _curve(card, last, "gains"), _curve(card, last, "ks")
        out.append(
            Figure(
                f"ks-{name}",
                "KS curve",
                f"{_split_label(last)}: positives and negatives captured part most, by "
                f"{number(gap[1])}, at the top {100 * gap[0]:.0f}% of scores "
                f"(KS {', '.join(f'{_split_label(s)} {number(ks[s])}' for s in splits)}).",
                line_chart(
                    [Series(f"gap, {_split_label(s)}", _curve(card, s, "ks")) for s in curved]
                    + [
                        Series(f"positives, {_split_label(last)}", gains, dashed=True),
                        Series(
                            f"negatives, {_split_label(last)}",
                            [(x, g - k) for (x, g), (_, k) in zip(gains, ks_gap, strict=True)],
                            dashed=True,
                        ),
                    ],
                    kind="ks",
                    x_label="share of customers by score",
                    y_label="share captured",
                    x_range=(0, 1),
                    y_range=(0, 1),
                ),
            )
        )
        top10 = {s: _at(_curve(card, s, "gains"), 0.1) for s in curved}
        out.append(
            Figure(
                f"gains-{name}",
                "Cumulative gains",
                f"{_split_label(last)}: the top 10% of scores hold "
                f"{100 * (top10[last] or 0):.0f}% of the positives.",
                line_chart(
                    [Series(_split_label(s), _curve(card, s, "gains")) for s in curved],
                    kind="gains",
                    x_label="share of customers by score",
                    y_label="share of positives",
                    x_range=(0, 1),
                    y_range=(0, 1),
                    diagonal=True,
                ),
            )
        )
    lifts = {s: [card.metrics[s].get(f"lift_decile_{d}") for d in range(1, 11)] for s in splits}
    if splits and any(v is not None for v in lifts[splits[-1]]):
        out.append(
            Figure(
                f"lift-{name}",
                "Lift by decile",
                f"{_split_label(splits[-1])}: decile 1 (highest scores) holds "
                f"{number(lifts[splits[-1]][0])}x the average positive rate, decile 10 "
                f"{number(lifts[splits[-1]][9])}x.",
                bar_chart(
                    [str(d) for d in range(1, 11)],
                    {_split_label(s): lifts[s] for s in splits},
                    kind="lift",
                    x_label="score decile (1 = highest)",
                    y_label="lift",
                ),
                Table(
                    f"lift-{name}",
                    ["split", *(f"decile {d}" for d in range(1, 11))],
                    [[s, *lifts[s]] for s in splits],
                ),
            )
        )
    calibration = _curve(card, last, "calibration") if last else []
    if calibration:
        off = max(abs(x - y) for x, y in calibration)
        out.append(
            Figure(
                f"calibration-{name}",
                "Calibration",
                f"{_split_label(last)}: mean predicted and observed rate per decile differ by at "
                f"most {number(off)}.",
                line_chart(
                    [
                        Series(_split_label(s), sorted(_curve(card, s, "calibration")))
                        for s in curved
                    ],
                    kind="calibration",
                    x_label="mean predicted score",
                    y_label="observed rate",
                    x_range=(0, 1),
                    y_range=(0, 1),
                    diagonal=True,
                ),
                Table(
                    f"calibration-{name}",
                    ["decile", "mean predicted", "observed"],
                    [[i + 1, x, y] for i, (x, y) in enumerate(calibration)],
                ),
            )
        )
        positive, negative = (
            _curve(card, last, "score_positive"),
            _curve(card, last, "score_negative"),
        )
        mean_pos = sum((x - 0.025) * y for x, y in positive)
        mean_neg = sum((x - 0.025) * y for x, y in negative)
        out.append(
            Figure(
                f"scores-{name}",
                "Score distribution by class",
                f"{_split_label(last)}: positives' scores centre near {mean_pos:.2f}, "
                f"negatives' near {mean_neg:.2f} (bin midpoints).",
                bar_chart(
                    [f"{x - 0.05:.2f}" for x, _ in positive],
                    {"positives": [y for _, y in positive], "negatives": [y for _, y in negative]},
                    kind="score-distribution",
                    x_label="score",
                    y_label="share of class",
                ),
            )
        )
    if splits:
        threshold = card.spec.threshold
        out.append(
            Figure(
                f"confusion-{name}",
                f"Confusion matrix at threshold {threshold:g}",
                f"{_split_label(splits[-1])}: "
                f"{number(card.metrics[splits[-1]].get('tp_at_threshold'))} true positives, "
                f"{number(card.metrics[splits[-1]].get('fp_at_threshold'))} false positives at "
                f"score >= {threshold:g}.",
                table=Table(
                    f"confusion-{name}",
                    [
                        "split",
                        "true positives",
                        "false positives",
                        "false negatives",
                        "true negatives",
                    ],
                    [
                        [
                            s,
                            *(
                                card.metrics[s].get(f"{k}_at_threshold")
                                for k in ("tp", "fp", "fn", "tn")
                            ),
                        ]
                        for s in splits
                    ],
                ),
            )
        )
    return out


# ---- monitoring ---------------------------------------------------------------------------


def _monitoring(data: ReportData) -> Section | None:
    blocks: list[Figure | Table] = []
    for card in data.cards:
        rows = card.monitoring
        if not rows:
            continue
        name = card.spec.name
        months = [str(r["score_month"]) for r in rows]
        latest = rows[-1]
        blocks.append(
            Figure(
                f"psi-{name}",
                f"{name}: score PSI by month",
                f"{months[-1]}: PSI vs previous month {number(latest['psi_vs_previous'])} "
                f"({latest['status_vs_previous']}), "
                f"vs training {number(latest['psi_vs_training'])} "
                f"({latest['status_vs_training']}).",
                line_chart(
                    [
                        Series(
                            "vs previous month",
                            [(i, r["psi_vs_previous"]) for i, r in enumerate(rows)],
                        ),
                        Series(
                            "vs training", [(i, r["psi_vs_training"]) for i, r in enumerate(rows)]
                        ),
                    ],
                    kind="psi",
                    x_label="score month",
                    y_label="PSI",
                    x_names=months,
                    bands=PSI_BANDS,
                ),
                Table(
                    f"monitoring-{name}",
                    [
                        "score month",
                        "rows scored",
                        "mean score",
                        "PSI vs previous",
                        "status",
                        "PSI vs training",
                        "status",
                        "AUC",
                        "KS",
                    ],
                    [
                        [
                            r["score_month"],
                            r["rows_scored"],
                            r["mean_score"],
                            r["psi_vs_previous"],
                            r["status_vs_previous"],
                            r["psi_vs_training"],
                            r["status_vs_training"],
                            r["auc"],
                            r["ks"],
                        ]
                        for r in rows
                    ],
                    marked={
                        i
                        for i, r in enumerate(rows)
                        if "error" in (r["status_vs_previous"], r["status_vs_training"])
                    },
                ),
            )
        )
        matured = [(i, r) for i, r in enumerate(rows) if r["auc"] is not None]
        if matured:
            blocks.append(
                Figure(
                    f"auc-{name}",
                    f"{name}: AUC and KS once labels matured",
                    f"{len(matured)} month(s) with matured labels; AUC "
                    f"{number(matured[0][1]['auc'])} in {months[matured[0][0]]} to "
                    f"{number(matured[-1][1]['auc'])} in {months[matured[-1][0]]} "
                    f"(training out-of-time {number((card.run or {}).get('auc_oot'))}).",
                    line_chart(
                        [
                            Series("AUC", [(i, r["auc"]) for i, r in matured]),
                            Series("KS", [(i, r["ks"]) for i, r in matured]),
                        ],
                        kind="auc-by-month",
                        x_label="score month",
                        y_label="AUC / KS",
                        x_names=months,
                        y_range=(0, 1),
                    ),
                )
            )
        lifted = [r for r in card.deciles if r["lift"] is not None]
        if lifted:
            lift_months = sorted({str(r["score_month"]) for r in lifted})
            cells = {
                (f"decile {r['decile']}", str(r["score_month"])): (r["lift"], _lift_band(r["lift"]))
                for r in lifted
            }
            top = [r["lift"] for r in lifted if r["decile"] == 1]
            blocks.append(
                Figure(
                    f"decile-lift-{name}",
                    f"{name}: lift by decile and month",
                    f"Decile 1 lift {number(min(top))} .. {number(max(top))} over "
                    f"{len(lift_months)} matured month(s).",
                    heatmap(
                        [f"decile {d}" for d in range(1, 11)],
                        lift_months,
                        cells,
                        kind="decile-lift",
                        what="lift",
                    ),
                )
            )
    blocks += [_online_vs_batch(card) for card in data.cards if card.online]
    for entity in sorted({r["entity"] for r in data.composite}):
        rows = [r for r in data.composite if r["entity"] == entity]
        months = sorted({str(r["score_month"]) for r in rows})
        last = [r for r in rows if str(r["score_month"]) == months[-1]]
        total = sum(r["rows_in_bin"] for r in last)
        by_bin = {r["bin"]: r["rows_in_bin"] for r in last}
        coverage = []
        for i, month in enumerate(months):
            month_rows = [r for r in rows if str(r["score_month"]) == month]
            n = sum(r["rows_in_bin"] for r in month_rows)
            coverage.append((i, sum(r["full_coverage"] for r in month_rows) / n))
        blocks.append(
            Figure(
                f"composite-{entity}",
                f"Composite score of {entity}s, {months[-1]}",
                f"{total:,} {entity}s scored; {100 * coverage[-1][1]:.1f}% have every model's "
                f"score (full weight coverage).",
                bar_chart(
                    [f"{b / 20:.2f}" for b in range(20)],
                    {"customers": [by_bin.get(b, 0) for b in range(20)]},
                    kind="composite",
                    x_label="composite score",
                    y_label="customers",
                ),
                Table(
                    f"composite-{entity}",
                    ["score month", "customers", "full coverage share"],
                    [
                        [m, sum(r["rows_in_bin"] for r in rows if str(r["score_month"]) == m), c]
                        for m, (_, c) in zip(months, coverage, strict=True)
                    ],
                ),
            )
        )
    if not blocks:
        return None
    return Section(
        "monitoring",
        "Monitoring over months",
        "Score stability (PSI with its warn and error bands) and accuracy once "
        "labels mature, per model and scored month, and the online service's scores "
        "against the batch's (marts score_monitoring, score_deciles, score_online_vs_batch, "
        "composite_scores).",
        blocks,
    )


def _online_vs_batch(card: ModelCard) -> Figure:
    """The score_online_vs_batch rows of a model: PSI of the online scores against the
    batch scores of the same version per request month (one series per version), with
    the rows scored online and the batch month compared with."""
    name, rows = card.spec.name, card.online
    months = sorted({str(r["request_month"]) for r in rows})
    versions = sorted({r["model_version"] for r in rows})
    latest = [r for r in rows if str(r["request_month"]) == months[-1]]
    reading = "; ".join(
        f"{r['model_version']}: {number(r['online_rows'])} rows scored online, PSI vs "
        + (
            f"the {r['batch_month']} batch {number(r['psi_vs_batch'])} ({r['status_vs_batch']})"
            if r["batch_month"] is not None
            else "batch n/a (no batch scores of this version)"
        )
        for r in latest
    )
    return Figure(
        f"online-{name}",
        f"{name}: online scores against batch scores",
        f"{months[-1]}: {reading}.",
        line_chart(
            [
                Series(
                    version,
                    [
                        (months.index(str(r["request_month"])), r["psi_vs_batch"])
                        for r in rows
                        if r["model_version"] == version
                    ],
                )
                for version in versions
            ],
            kind="psi-online",
            x_label="request month",
            y_label="PSI online vs batch",
            x_names=months,
            bands=PSI_BANDS,
        ),
        Table(
            f"online-{name}",
            [
                "request month",
                "version",
                "online rows",
                "online mean score",
                "batch month",
                "batch rows",
                "batch mean score",
                "PSI vs batch",
                "status",
            ],
            [
                [
                    r["request_month"],
                    r["model_version"],
                    r["online_rows"],
                    r["online_mean_score"],
                    r["batch_month"],
                    r["batch_rows"],
                    r["batch_mean_score"],
                    r["psi_vs_batch"],
                    r["status_vs_batch"],
                ]
                for r in rows
            ],
            marked={i for i, r in enumerate(rows) if r["status_vs_batch"] == "error"},
        ),
    )


def _lift_band(lift: float) -> str:
    return "band-ok" if lift >= 1.5 else "band-mid" if lift >= 0.8 else "band-low"


# ---- features -----------------------------------------------------------------------------


def _features(data: ReportData) -> Section | None:
    blocks: list[Figure | Table] = []
    if data.feature_psi:
        months = sorted({str(r["current_month"]) for r in data.feature_psi})
        columns = sorted({r["column_name"] for r in data.feature_psi})
        cells = {
            (r["column_name"], str(r["current_month"])): (r["psi"], f"band-{r['psi_band']}")
            for r in data.feature_psi
        }
        bands = defaultdict(int)
        for r in data.feature_psi:
            bands[r["psi_band"]] += 1
        flagged = sorted(
            r["column_name"]
            for r in data.feature_psi
            if str(r["current_month"]) == months[-1] and r["psi_band"] != "stable"
        )
        blocks.append(
            Figure(
                "feature-psi",
                "Feature PSI by month",
                f"{len(cells)} column-months: {bands['stable']} stable, {bands['warn']} warn, "
                f"{bands['error']} error; in {months[-1]}: "
                + (
                    ", ".join(flagged[:8]) + (" ..." if len(flagged) > 8 else "")
                    if flagged
                    else "all stable"
                )
                + ".",
                heatmap(columns, months, cells, kind="feature-psi", what="PSI"),
            )
        )
    for scenario in sorted({r["scenario"] for r in data.feature_iv}):
        ranked = [r for r in data.feature_iv if r["scenario"] == scenario]
        top = ranked[:20]
        blocks.append(
            Figure(
                f"iv-{scenario}",
                f"Information value, {scenario}",
                f"Most informative: {top[0]['column_name']} (IV {number(top[0]['iv'])}); "
                f"{sum(r['iv'] >= 0.02 for r in ranked)} of {len(ranked)} features reach IV 0.02.",
                bar_chart(
                    [r["column_name"] for r in top],
                    {"IV": [r["iv"] for r in top]},
                    kind="iv",
                    x_label="IV",
                    y_label="feature",
                    horizontal=True,
                ),
                Table(
                    f"iv-{scenario}",
                    ["rank", "feature", "IV"],
                    [[r["iv_rank"], r["column_name"], r["iv"]] for r in ranked],
                ),
            )
        )
    if data.feature_profiles:
        blocks.append(_profiles(data))
    if not blocks:
        return None
    return Section(
        "features",
        "Features",
        "The wide table's distribution checks: PSI per column and month (stable "
        "<= 0.10 < warn <= 0.25 < error), IV per scenario and column profiles "
        "(marts feature_psi, feature_iv, feature_profiles).",
        blocks,
    )


def _profiles(data: ReportData) -> Figure:
    months = sorted({r["month"] for r in data.feature_profiles})
    latest = [r for r in data.feature_profiles if r["month"] == months[-1]]
    band = {(r["column_name"], r["current_month"]): r["psi_band"] for r in data.feature_psi}
    psi_months = sorted({r["current_month"] for r in data.feature_psi})
    changed = set()
    if len(psi_months) >= 2:
        for r in latest:
            now = band.get((r["column_name"], psi_months[-1]))
            before = band.get((r["column_name"], psi_months[-2]))
            if now and before and now != before:
                changed.add(r["column_name"])
    columns = ["n_rows", "null_share", "n_distinct", "min", "p25", "p50", "p75", "max", "mean"]
    table = Table(
        "feature-profiles",
        ["column", "kind", *columns, "PSI band", "top values"],
        [],
    )
    for i, r in enumerate(latest):
        table.rows.append(
            [
                r["column_name"],
                r.get("column_kind"),
                *(r.get(c) for c in columns),
                band.get((r["column_name"], psi_months[-1])) if psi_months else None,
                r.get("top_values"),
            ]
        )
        if r["column_name"] in changed:
            table.marked.add(i)
    return Figure(
        "feature-profiles",
        f"Column profiles, {months[-1]}",
        f"{len(latest)} columns profiled; {len(changed)} changed PSI band since the previous "
        f"month" + (f": {', '.join(sorted(changed)[:8])}" if changed else "") + " (highlighted).",
        table=table,
    )


# ---- bank ---------------------------------------------------------------------------------


def _bank(data: ReportData) -> Section | None:
    blocks: list[Figure | Table] = []
    for rule_set in sorted({r["rule_set"] for r in data.clusters}):
        rows = [r for r in data.clusters if r["rule_set"] == rule_set]
        total = sum(r["customers"] for r in rows)
        biggest = max(rows, key=lambda r: r["customers"])
        profile = [k for k in rows[0] if k not in ("rule_set", "cluster", "customers")]
        blocks.append(
            Figure(
                f"clusters-{rule_set}",
                f"Clusters of {rule_set}",
                f"{len(rows)} clusters over {total:,} customers; the largest, cluster "
                f"{biggest['cluster']}, holds {100 * biggest['customers'] / total:.0f}%.",
                bar_chart(
                    [str(r["cluster"]) for r in rows],
                    {"customers": [r["customers"] for r in rows]},
                    kind="cluster-sizes",
                    x_label="cluster",
                    y_label="customers",
                ),
                Table(
                    f"clusters-{rule_set}",
                    ["cluster", "customers", *profile],
                    [[r["cluster"], r["customers"], *(r[k] for k in profile)] for r in rows],
                ),
            )
        )
    if data.rules:
        strongest = data.rules[0]
        blocks.append(
            Figure(
                "rules",
                "Association rules",
                f"{len(data.rules)} strongest rules by support x confidence; first: "
                f"{strongest['antecedents']} -> {strongest['consequents']} (support "
                f"{number(strongest['support'])}, confidence {number(strongest['confidence'])}, "
                f"lift {number(strongest['lift'])}).",
                scatter(
                    [
                        (
                            r["support"],
                            r["confidence"],
                            r["lift"],
                            f"{r['rule_set']} #{r['cluster']}: "
                            f"{r['antecedents']} -> {r['consequents']}",
                        )
                        for r in data.rules
                    ],
                    kind="rules",
                    x_label="support",
                    y_label="confidence",
                    size_label="lift",
                ),
                Table(
                    "rules",
                    ["rule set", "cluster", "if", "then", "support", "confidence", "lift"],
                    [
                        [
                            r["rule_set"],
                            r["cluster"],
                            r["antecedents"],
                            r["consequents"],
                            r["support"],
                            r["confidence"],
                            r["lift"],
                        ]
                        for r in data.rules[:20]
                    ],
                ),
            )
        )
    for rule_set in sorted({r["rule_set"] for r in data.cross_sell}):
        rows = [r for r in data.cross_sell if r["rule_set"] == rule_set]
        blocks.append(
            Figure(
                f"cross-sell-{rule_set}",
                f"Cross-sell recommendations, {rule_set}",
                f"{sum(r['customers'] for r in rows):,} recommendations of {len(rows)} products; "
                f"most recommended: {rows[0]['item']} ({rows[0]['customers']:,} customers).",
                bar_chart(
                    [r["item"] for r in rows],
                    {
                        "customers": [r["customers"] for r in rows],
                        "first choice": [r["first_choice"] for r in rows],
                    },
                    kind="cross-sell",
                    x_label="customers",
                    y_label="product",
                    horizontal=True,
                ),
                Table(
                    f"cross-sell-{rule_set}",
                    ["product", "customers", "first choice"],
                    [[r["item"], r["customers"], r["first_choice"]] for r in rows],
                ),
            )
        )
    if data.bank_lists:
        blocks.append(
            Figure(
                "bank-lists",
                "Campaign lists",
                "; ".join(
                    f"{lst.replace('_', ' ')}: {rows[-1]['customers']:,} in "
                    f"{rows[-1]['score_month']}"
                    for lst in sorted({r["list"] for r in data.bank_lists})
                    for rows in [[r for r in data.bank_lists if r["list"] == lst]]
                )
                + ".",
                table=Table(
                    "bank-lists",
                    ["list", "score month", "customers"],
                    [[r["list"], r["score_month"], r["customers"]] for r in data.bank_lists],
                ),
            )
        )
    if not blocks:
        return None
    return Section(
        "bank",
        "Bank",
        "Retail clusters, their association rules and the "
        "cross-sell and churn-warning lists built from them (marts "
        "retail_cluster_profiles, cross_sell_recommendations, corporate_churn_warnings, "
        "potential_customers_guangdong; ml.association_rules).",
        blocks,
    )


# ---- personal data ---------------------------------------------------------------------


def _privacy(data: ReportData) -> Section | None:
    """The inventory of classified source columns and where each table's data flows (the
    table docs/privacy_inventory.md holds, from the same dbt manifest)."""
    if not data.privacy:
        return None
    rows = [
        [
            r["table"],
            ", ".join(r["identifier"]),
            ", ".join(r["personal"]),
            ", ".join(r["sensitive"]),
            " · ".join(f"{layer}: {', '.join(names)}" for layer, names in r["layers"].items()),
        ]
        for r in data.privacy
    ]
    classified = sum(
        len(r[c]) for r in data.privacy for c in ("identifier", "personal", "sensitive")
    )
    return Section(
        "privacy",
        "Personal data",
        f"{classified} source columns of {len(rows)} tables are classified (meta.pii in the "
        "sources YAML); the models built from each table, by layer. The marts BI reads carry "
        "identifiers only as pseudonymous keys and masks, which their build checks; the "
        "operations role maps keys to ids in restricted.customer_keys (docs/privacy.md).",
        [
            Table(
                "privacy-inventory",
                ["source table", "identifier", "personal", "sensitive", "models built from it"],
                rows,
            )
        ],
    )


def sections(data: ReportData) -> list[Section]:
    found = [_overview(data), _monitoring(data), _features(data), _bank(data), _privacy(data)]
    iv: dict[str, dict[str, float]] = defaultdict(dict)
    for r in data.feature_iv:
        iv[r["scenario"]][r["column_name"]] = r["iv"]
    cards = [_card(card, iv[card.spec.scenario]) for card in data.cards if card.run is not None]
    return [found[0], *cards, *(s for s in found[1:] if s is not None)]


def render(data: ReportData) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["instance_of_figure"] = lambda block: isinstance(block, Figure)
    return env.get_template("report.html.j2").render(data=data, sections=sections(data))
