"""Exercises for notebook 03_evaluating_like_a_clinician."""

from __future__ import annotations

import numpy as np

from radkit import evaluate
from radkit.exercises import Exercise, diagnose_number, diagnose_numbers, number_problem, short


def _rates(sensitivity, specificity, labels, probabilities):
    m = evaluate.clinical_metrics(labels, probabilities, 0.5)
    problem = diagnose_numbers({"sensitivity": sensitivity, "specificity": specificity},
                               {"sensitivity": m["sensitivity"], "specificity": m["specificity"]}, fraction=True)
    if problem and "swapped" not in problem and not number_problem(sensitivity):
        mix_ups = {"the PPV (true positives among films CALLED positive; sensitivity divides by the truly sick)":
                   m["ppv"], "the NPV": m["npv"], "the accuracy": m["accuracy"]}
        for name, value in (("sensitivity", sensitivity), ("specificity", specificity)):
            better = diagnose_number(value, m[name], name, 1e-6, mix_ups=mix_ups, fraction=True)
            if better:
                return better
    return problem


def _screening(threshold, labels, probabilities):
    problem = number_problem(threshold, "screen_threshold")
    if problem:
        return problem
    expected = evaluate.choose_threshold(labels, probabilities, rule="sensitivity", target=0.98)
    found = evaluate.clinical_metrics(labels, probabilities, float(threshold))["sensitivity"]
    if found < 0.98:
        return f"at {short(threshold)} the validation sensitivity is {found:.1%}, below 98 %."
    if float(threshold) < expected - 1e-9:
        return (f"{short(threshold)} finds enough pneumonias, but a higher threshold also would, with fewer false "
                "alarms: choose the highest that does.")
    return diagnose_number(threshold, expected, "screen_threshold", 1e-9)


def _clinic_ppv(ppv, m):
    clinic = evaluate.predictive_values(m["sensitivity"], m["specificity"], 0.02)
    return diagnose_number(ppv, clinic["ppv"], "ppv_clinic", 1e-6, fraction=True, mix_ups={
        "the prevalence itself": 0.02,
        "the NPV; the question asks for the PPV": clinic["npv"],
        "the sensitivity": m["sensitivity"],
        "the PPV of the test set, at ITS prevalence; the clinic has 2 %": m["ppv"],
    })


def _specificity_ci(ci, labels, probabilities):
    if not isinstance(ci, dict) or not {"low", "high", "estimate"} <= set(ci):
        return (f"spec_ci is {short(ci)}; it should be what evaluate.bootstrap_ci returns "
                "(a dict with low, estimate and high).")
    m = evaluate.clinical_metrics(labels, probabilities, 0.5)
    if np.isclose(ci["estimate"], m["sensitivity"]) and not np.isclose(m["sensitivity"], m["specificity"]):
        return "that is an interval for the sensitivity: pass metric=\"specificity\"."
    if not np.isclose(ci["estimate"], m["specificity"]):
        return "the estimate is not the specificity at threshold 0.5: pass metric=\"specificity\" and threshold=0.5."
    if not ci["low"] <= m["specificity"] <= ci["high"] or not ci["low"] < ci["high"]:
        return "the interval does not contain the specificity itself."
    return None


q1 = Exercise(
    "q1", _rates,
    hint="Sensitivity = found / all truly sick = tp / (tp + fn). Specificity = cleared / all truly healthy = "
         "tn / (tn + fp). The counts are in m: m['tp'], m['fn'], m['tn'], m['fp'].",
    solution='sensitivity = m["tp"] / (m["tp"] + m["fn"])\nspecificity = m["tn"] / (m["tn"] + m["fp"])',
    wrong=('sensitivity = m["tn"] / (m["tn"] + m["fp"])\nspecificity = m["tp"] / (m["tp"] + m["fn"])',
           'sensitivity = m["tp"] / (m["tp"] + m["fp"])\nspecificity = m["tn"] / (m["tn"] + m["fp"])',
           'sensitivity = 100 * m["tp"] / (m["tp"] + m["fn"])\nspecificity = 100 * m["tn"] / (m["tn"] + m["fp"])'),
)
q2 = Exercise(
    "q2", _screening,
    hint="evaluate.choose_threshold(val_labels, val_probs, rule='sensitivity', target=...) with target 0.98.",
    solution='screen_threshold = evaluate.choose_threshold(val_labels, val_probs, rule="sensitivity", target=0.98)',
    wrong=("screen_threshold = 0.98",
           'screen_threshold = evaluate.choose_threshold(val_labels, val_probs, rule="sensitivity", target=0.90)'),
)
q3 = Exercise(
    "q3", _clinic_ppv,
    hint="evaluate.predictive_values(sensitivity, specificity, prevalence) returns a dict; take its 'ppv'. "
         "2 % is written 0.02.",
    solution='ppv_clinic = evaluate.predictive_values(m["sensitivity"], m["specificity"], 0.02)["ppv"]',
    wrong=("ppv_clinic = 0.02",
           'ppv_clinic = evaluate.predictive_values(m["sensitivity"], m["specificity"], 0.02)["npv"]',
           'ppv_clinic = evaluate.predictive_values(m["sensitivity"], m["specificity"], 0.02)',
           'ppv_clinic = m["ppv"]'),
)
q4 = Exercise(
    "q4", _specificity_ci,
    hint="Like the cell above, with metric='specificity' and threshold=0.5.",
    solution='spec_ci = evaluate.bootstrap_ci(test_labels, probs, metric="specificity", threshold=0.5, n_boot=n_boot, '
             'seed=0)',
    wrong=('spec_ci = evaluate.bootstrap_ci(test_labels, probs, metric="sensitivity", threshold=0.5, n_boot=n_boot, '
           'seed=0)',
           'spec_ci = m["specificity"]'),
)
