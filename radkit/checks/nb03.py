"""Exercises for notebook 03_evaluating_like_a_clinician."""

from __future__ import annotations

import numpy as np

from radkit import evaluate
from radkit.exercises import Exercise, close_to


def _rates(sensitivity, specificity, labels, probabilities):
    m = evaluate.clinical_metrics(labels, probabilities, 0.5)
    if np.isclose(sensitivity, m["specificity"]) and np.isclose(specificity, m["sensitivity"]):
        return "sensitivity and specificity are swapped: sensitivity is about the truly sick films."
    if np.isclose(sensitivity, m["ppv"]):
        return "that is the PPV (true positives among films CALLED positive); sensitivity divides by the truly sick."
    return (close_to(sensitivity, m["sensitivity"], 1e-6, "sensitivity")
            or close_to(specificity, m["specificity"], 1e-6, "specificity"))


def _screening(threshold, labels, probabilities):
    expected = evaluate.choose_threshold(labels, probabilities, rule="sensitivity", target=0.98)
    found = evaluate.clinical_metrics(labels, probabilities, float(threshold))["sensitivity"]
    if found < 0.98:
        return f"at your threshold the validation sensitivity is {found:.1%}, below 98 %."
    return close_to(threshold, expected, 1e-9, "your threshold (finds enough, but is it the highest that does?)")


def _clinic_ppv(ppv, sensitivity, specificity):
    expected = evaluate.predictive_values(sensitivity, specificity, 0.02)["ppv"]
    if np.isclose(ppv, evaluate.predictive_values(sensitivity, specificity, 0.02)["npv"]):
        return "that is the NPV; the question asks for the PPV."
    return close_to(ppv, expected, 1e-6, "the PPV at 2 % prevalence")


def _specificity_ci(ci, labels, probabilities):
    if not isinstance(ci, dict) or not {"low", "high", "estimate"} <= set(ci):
        return "spec_ci should be what evaluate.bootstrap_ci returns (a dict with low, estimate and high)."
    point = evaluate.clinical_metrics(labels, probabilities, 0.5)["specificity"]
    if not np.isclose(ci["estimate"], point):
        return "the estimate is not the specificity at threshold 0.5: did you pass metric='specificity'?"
    if not ci["low"] <= point <= ci["high"]:
        return "the interval does not contain the specificity itself."
    return None


q1 = Exercise(
    "q1", _rates,
    hint="Sensitivity = found / all truly sick = tp / (tp + fn). Specificity = cleared / all truly healthy = "
         "tn / (tn + fp). The counts are in m: m['tp'], m['fn'], m['tn'], m['fp'].",
    solution='sensitivity = m["tp"] / (m["tp"] + m["fn"])\nspecificity = m["tn"] / (m["tn"] + m["fp"])',
)
q2 = Exercise(
    "q2", _screening,
    hint="evaluate.choose_threshold(val_labels, val_probs, rule='sensitivity', target=...) with target 0.98.",
    solution='screen_threshold = evaluate.choose_threshold(val_labels, val_probs, rule="sensitivity", target=0.98)',
)
q3 = Exercise(
    "q3", _clinic_ppv,
    hint="evaluate.predictive_values(sensitivity, specificity, prevalence) returns a dict; take its 'ppv'. "
         "2 % is written 0.02.",
    solution='ppv_clinic = evaluate.predictive_values(m["sensitivity"], m["specificity"], 0.02)["ppv"]',
)
q4 = Exercise(
    "q4", _specificity_ci,
    hint="Like the cell above, with metric='specificity' and threshold=0.5.",
    solution='spec_ci = evaluate.bootstrap_ci(test_labels, probs, metric="specificity", threshold=0.5,\n'
             '                               n_boot=n_boot, seed=0)',
)
