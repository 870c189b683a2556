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
    if np.isclose(threshold, evaluate.choose_threshold(eval_labels, eval_probs, rule="youden")) and not np.isclose(
            threshold, expected):
        return ("that threshold was chosen on the evaluation films: choose on the calibration films, "
                "judge on the others.")
    return close_to(threshold, expected, 1e-9, "the threshold")


def _wider_view(view, rows):
    widths = {r["value"]: r["auc"]["high"] - r["auc"]["low"] for r in rows
              if r["group"] == "view" and np.isfinite(r["auc"]["estimate"])}
    expected = max(widths, key=widths.get)
    if view not in widths:
        return f"answer with one of {sorted(widths)} (as a string, e.g. 'AP')."
    return None if view == expected else "look at the AUC intervals of the two views again: which is wider?"


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
    wrong=('new_threshold = evaluate.choose_threshold(eval_y, eval_p, rule="youden")', "new_threshold = 0.5"),
)
q3 = Exercise(
    "q3", _wider_view,
    hint="In the subgroup table, compare the two 'view' rows: width = high - low of the AUC interval. "
         "The smaller group usually has the wider interval.",
    solution='view_rows = {r["value"]: r["auc"]["high"] - r["auc"]["low"] for r in rows if r["group"] == "view"}\n'
             "wider_view = max(view_rows, key=view_rows.get)",
    wrong=('view_rows = {r["value"]: r["auc"]["high"] - r["auc"]["low"] for r in rows if r["group"] == "view"}\n'
           "wider_view = min(view_rows, key=view_rows.get)",),
)
