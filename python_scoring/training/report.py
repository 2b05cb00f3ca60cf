"""A training run's evaluation for the console."""

from __future__ import annotations

from python_scoring.training.plan import SPLITS


def headline(results: dict[str, dict[str, float]]) -> str:
    """One line: out-of-time AUC/KS, and the cross-validated AUC when there is one."""
    parts = []
    if "oot" in results:
        oot = results["oot"]
        parts.append(f"OOT AUC {oot['auc']:.4f} KS {oot['ks']:.4f} ({oot['rows']:,.0f} rows)")
    if "cv" in results:
        cv = results["cv"]
        parts.append(f"{cv['folds']:.0f}-fold CV AUC {cv['auc']:.4f} ± {cv['auc_std']:.4f}")
    return "; ".join(parts)


def format_metrics(results: dict[str, dict[str, float]], threshold: float) -> str:
    """The evaluation as a small table for the console: the training splits, then any
    other (`scorehouse evaluate`'s evaluate:<name>), then the cross-validation line."""
    splits = [s for s in SPLITS if s in results]
    splits += [s for s in results if s not in SPLITS and s != "cv"]
    width = max(16, *(len(s) + 2 for s in splits))
    rows = [
        ("rows", "{:,.0f}", "rows"),
        ("positive rate", "{:.4f}", "positive_rate"),
        ("AUC", "{:.4f}", "auc"),
        ("KS", "{:.4f}", "ks"),
        ("Gini", "{:.4f}", "gini"),
        ("precision @ top 10%", "{:.4f}", "precision_top10"),
        ("recall @ top 10%", "{:.4f}", "recall_top10"),
        ("lift @ top 10%", "{:.2f}", "lift_top10"),
        (f"precision @ {threshold:g}", "{:.4f}", "precision_at_threshold"),
        (f"recall @ {threshold:g}", "{:.4f}", "recall_at_threshold"),
        (f"TP / FP @ {threshold:g}", None, None),
    ]
    lines = ["  " + " " * 22 + "".join(f"{split:>{width}}" for split in splits)]
    for label, fmt, key in rows:
        if key is None:
            cells = [
                f"{results[s]['tp_at_threshold']:,.0f}/{results[s]['fp_at_threshold']:,.0f}"
                for s in splits
            ]
        else:
            cells = [fmt.format(results[s][key]) for s in splits]
        lines.append(f"  {label:<22}" + "".join(f"{c:>{width}}" for c in cells))
    last = splits[-1]
    lifts = " ".join(f"{results[last][f'lift_decile_{d}']:.2f}" for d in range(1, 11))
    lines.append(f"  {last.upper() + ' lift by decile':<22}{lifts}")
    if "cv" in results:
        cv = results["cv"]
        lines.append(
            f"  {cv['folds']:.0f}-fold CV (in-time)   AUC {cv['auc']:.4f} ± {cv['auc_std']:.4f}"
            f"   KS {cv['ks']:.4f} ± {cv['ks_std']:.4f}   ({cv['rows']:,.0f} rows)"
        )
    return "\n".join(lines)
