"""Several findings and subgroups: per-finding AUCs and tables by sex, age band or view, each with its
interval. Introduced in notebooks 06 and 10.
"""

from __future__ import annotations

import numpy as np

from radkit.errors import RadkitError

from radkit.evaluate.metrics import CURVE_METRICS, bootstrap_ci, check_inputs, format_interval


def per_finding(labels, probabilities, findings, metric="auc", min_positives: int = 20, n_boot: int = 1000,
                seed: int = 0) -> list[dict]:
    """One row per finding: its positives, its AUC (or another metric) with a bootstrap interval (notebook 06).

    ``labels`` and ``probabilities`` are (films, findings), as a multi-label model
    gives them. ``judged`` is False when the finding has fewer than ``min_positives``
    positive films: its interval is then too wide to say anything. A finding with
    no positive (or no negative) film has no AUC at all (NaN).
    """
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=float)
    if labels.ndim != 2 or labels.shape != probabilities.shape or labels.shape[1] != len(findings):
        raise RadkitError(
            f"Expected labels and probabilities shaped (films, {len(findings)} findings); got {labels.shape} and "
            f"{probabilities.shape}.", "Pass the multi-hot labels and the model's outputs for the same films.")
    rows = []
    for k, finding in enumerate(findings):
        y, p = labels[:, k], probabilities[:, k]
        positives = int(y.sum())
        row = {"finding": finding, "positives": positives, "negatives": int(len(y) - positives),
               "judged": positives >= min_positives}
        if 0 < positives < len(y):
            row.update(bootstrap_ci(y, p, metric=metric, n_boot=n_boot, seed=seed))
        else:
            row.update({"estimate": float("nan"), "low": float("nan"), "high": float("nan")})
        rows.append(row)
    return rows


def subgroups(labels, probabilities, groups: dict, metrics=("auc", "sensitivity", "specificity"),
              threshold: float = 0.5, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Metrics with intervals within each subgroup, e.g. by sex, age band and view (notebook 10).

    ``groups`` maps a name to one value per film, e.g. ``{"sex": sex, "view": view}``.
    One row per group value: ``group``, ``value``, ``n``, ``positives`` and each metric as
    ``{"estimate", "low", "high"}`` (NaN where a metric cannot be computed, e.g. an AUC
    in a group with one kind of film). Small groups give wide intervals: that is the lesson.
    """
    labels, probabilities = check_inputs(labels, probabilities)
    rows = []
    for name, values in groups.items():
        values = np.asarray(values)
        if len(values) != len(labels):
            raise RadkitError(f"The group {name!r} has {len(values)} values for {len(labels)} films.",
                              "Give one group value per film, in the same order as the labels.")
        for value in sorted(set(values.tolist()), key=str):
            keep = values == value
            y, p = labels[keep], probabilities[keep]
            row = {"group": name, "value": value, "n": int(keep.sum()), "positives": int(y.sum())}
            for metric in metrics:
                needs_both = metric in CURVE_METRICS
                possible = (y.min() != y.max()) if needs_both else (
                    (y == 1).any() if metric == "sensitivity" else (y == 0).any() if metric == "specificity" else True)
                row[metric] = (bootstrap_ci(y, p, metric=metric, threshold=threshold, n_boot=n_boot, seed=seed)
                               if possible and len(y) > 1 else
                               {"estimate": float("nan"), "low": float("nan"), "high": float("nan")})
            rows.append(row)
    return rows


def format_rows(rows: list[dict], columns=None) -> str:
    """Rows of ``per_finding`` or ``subgroups`` as a plain text table, intervals written out."""
    if not rows:
        return "(no rows)"
    columns = columns or [c for c in rows[0] if c not in ("n_boot", "confidence", "low", "high")]

    def cell(row, column):
        value = row[column]
        if column == "estimate":
            return format_interval(row)
        if isinstance(value, dict):
            return format_interval(value)
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "too few"
        if isinstance(value, float):
            return "n/a" if not np.isfinite(value) else f"{value:.3f}"
        return str(value)

    names = {"estimate": "AUC (95% interval)"}
    table = [[names.get(c, c) for c in columns]] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in table)
