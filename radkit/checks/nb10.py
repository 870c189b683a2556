"""Exercises for notebook 10_responsible_ai."""

from __future__ import annotations

import numpy as np

from radkit import evaluate
from radkit.exercises import Exercise, close_to


def _auc_drop(drop, home_labels, home_probs, nih_labels, nih_probs):
    expected = evaluate.auc(home_labels, home_probs) - evaluate.auc(nih_labels, nih_probs)
    if np.isclose(drop, -expected):
        return "the sign is the wrong way round: the AUC at home minus the AUC on the NIH films."
    return close_to(drop, expected, 1e-9, "the drop in AUC")


def _new_threshold(threshold, cal_labels, cal_probs, eval_labels, eval_probs):
    expected = evaluate.choose_threshold(cal_labels, cal_probs, rule="youden")
    if np.isclose(threshold, 0.5) and not np.isclose(expected, 0.5):
        return "that is the old threshold; choose a new one on the calibration films."
    # Checked on the films: the threshold chosen on all the photographed films (both halves) is the mistake the
    # cell warns against, since the evaluation half then helped choose it.
    on_all = evaluate.choose_threshold(np.concatenate([cal_labels, eval_labels]),
                                       np.concatenate([cal_probs, eval_probs]), rule="youden")
    if np.isclose(threshold, on_all) and not np.isclose(threshold, expected):
        return ("that threshold was chosen on all the photographed films, the evaluation half included: choose "
                "on the calibration half only (cal_y, cal_p), so the other half can judge it fairly.")
    if np.isclose(threshold, evaluate.choose_threshold(eval_labels, eval_probs, rule="youden")) and not np.isclose(
            threshold, expected):
        return ("that threshold was chosen on the evaluation films: choose on the calibration films, "
                "judge on the others.")
    return close_to(threshold, expected, 1e-9, "the threshold")


def _wider_view(view, view_rows, rows):
    widths = {r["value"]: r["auc"]["high"] - r["auc"]["low"] for r in rows
              if r["group"] == "view" and np.isfinite(r["auc"]["estimate"])}
    expected = max(widths, key=widths.get)
    # The reasoning is checked first: view_rows must hold each view's interval width, not its number of films.
    if not isinstance(view_rows, dict) or sorted(map(str, view_rows)) != sorted(widths):
        return (f"view_rows should be a dictionary with one entry per view ({', '.join(sorted(widths))}), "
                "each holding that view's AUC interval width.")
    sizes = {r["value"]: r["n"] for r in rows if r["group"] == "view"}
    if all(np.isclose(float(view_rows[v]), sizes[v]) for v in widths):
        return "view_rows holds the number of films of each view; it should hold the width of each AUC interval."
    if not all(np.isclose(float(view_rows[v]), widths[v]) for v in widths):
        return "each entry of view_rows should be the width of that view's AUC interval: high minus low."
    if view not in widths:
        return f"answer with one of {sorted(widths)} (as a string, e.g. 'AP')."
    return None if view == expected else "look at the widths in view_rows again: which view's is the larger?"


q1 = Exercise(
    "q1", _auc_drop,
    hint="evaluate.auc(labels, probabilities) on each set; the drop is home minus NIH.",
    solution="auc_drop = evaluate.auc(home_y, home_p) - evaluate.auc(nih_y, nih_p)",
    wrong=("auc_drop = evaluate.auc(nih_y, nih_p) - evaluate.auc(home_y, home_p)",),
)
q2 = Exercise(
    "q2", _new_threshold,
    hint="evaluate.choose_threshold(cal_y, cal_p, rule='youden') chooses on the calibration half.",
    solution='new_threshold = evaluate.choose_threshold(cal_y, cal_p, rule="youden")',
    # (The threshold chosen on all photographed films is rejected when it differs from the calibration half's; on the
    # fast-mode films both halves' optimum is the same film, so that answer cannot be told apart there by its value.)
    wrong=('new_threshold = evaluate.choose_threshold(eval_y, eval_p, rule="youden")', "new_threshold = 0.5"),
)
q3 = Exercise(
    "q3", _wider_view,
    hint="For each 'view' row of the table, the width is r['auc']['high'] - r['auc']['low']: collect them in a "
         "dictionary, then take the view with the larger width. Do not guess from the number of films: the width "
         "also depends on how many films of each label a group has and on how well the model separates them, so "
         "measure it.",
    solution='view_rows = {r["value"]: r["auc"]["high"] - r["auc"]["low"] for r in rows if r["group"] == "view"}\n'
             "wider_view = max(view_rows, key=view_rows.get)",
    wrong=('view_rows = {r["value"]: r["auc"]["high"] - r["auc"]["low"] for r in rows if r["group"] == "view"}\n'
           "wider_view = min(view_rows, key=view_rows.get)",
           'view_rows = {r["value"]: r["n"] for r in rows if r["group"] == "view"}\n'
           "wider_view = max(view_rows, key=view_rows.get)",
           'view_rows = {r["value"]: r["n"] for r in rows if r["group"] == "view"}\n'
           "wider_view = min(view_rows, key=view_rows.get)",
           'view_rows = [r["value"] for r in rows if r["group"] == "view"]\n'
           "wider_view = view_rows[0]"),
)
