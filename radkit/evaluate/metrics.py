"""Clinical metrics from labels and probabilities: sensitivity, specificity, PPV, NPV, AUC, thresholds and
bootstrap confidence intervals. Introduced in notebook 03_judging_a_model.
"""

from __future__ import annotations

import numpy as np

from radkit.errors import RadkitError


LABEL_NAMES = ("normal", "pneumonia")


METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy")


CURVE_METRICS = ("auc", "average_precision")


def check_inputs(labels, probabilities, need_both: bool = False, what: str = "these numbers"):
    """Labels as 0/1 integers and probabilities as floats 0..1, one each per film; or a RadkitError saying why not.

    ``need_both=True`` also insists on at least one film of each label (curves and AUC need both).
    """
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=float)
    # (N, 1) columns, as MedMNIST labels and model.predict give them, become plain lists of N.
    labels = labels[:, 0] if labels.ndim == 2 and labels.shape[1] == 1 else labels
    probabilities = probabilities[:, 0] if probabilities.ndim == 2 and probabilities.shape[1] == 1 else probabilities
    if labels.ndim != 1 or probabilities.ndim != 1:
        raise RadkitError(
            f"Expected one label and one probability per film; got labels of shape {labels.shape} and "
            f"probabilities of shape {probabilities.shape}.",
            "Use the test labels (e.g. data.test[1]) and the model's probability of the finding for each film "
            "(radkit.evaluate.predict_probabilities(model, images)).")
    if len(labels) != len(probabilities):
        raise RadkitError(f"There are {len(labels)} labels but {len(probabilities)} probabilities.",
                          "Give one probability per film, for the same films, in the same order as the labels.")
    if len(labels) == 0:
        raise RadkitError("There are no films to evaluate (the labels are empty).", "Pass the test labels.")
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0 or probabilities.max() > 1:
        raise RadkitError(
            f"The probabilities must be numbers from 0 to 1; these run from {np.nanmin(probabilities):.3g} "
            f"to {np.nanmax(probabilities):.3g}" + (" and include missing values (NaN)."
                                                    if np.isnan(probabilities).any() else "."),
            "Pass the model's output probabilities (a sigmoid output), not raw scores or predicted labels "
            "in another form.")
    if not np.isin(labels, (0, 1)).all():
        raise RadkitError(f"The labels must be 0 (normal) or 1 (finding); found {sorted(set(labels.tolist()))[:6]}.",
                          "Use 0/1 labels, e.g. data.test[1].")
    labels = labels.astype(int)
    if need_both and len(np.unique(labels)) < 2:
        only = "positive (1)" if labels[0] == 1 else "negative (0)"
        raise RadkitError(
            f"All {len(labels)} labels are {only}, but {what} needs films of both kinds: an ROC curve and its "
            "AUC compare how the model ranks diseased against healthy films.",
            "Evaluate on a set that contains both normal and abnormal films (the test split does); "
            "with one kind only, report sensitivity (all positive) or specificity (all negative) instead.")
    return labels, probabilities


def _ratio(top: float, bottom: float) -> float:
    """top / bottom, or NaN when nothing was counted (e.g. the PPV when the model calls nothing positive)."""
    return float(top / bottom) if bottom else float("nan")


def confusion_counts(labels, probabilities, threshold: float = 0.5) -> dict:
    """The four counts at one threshold: ``tp``, ``fn``, ``fp``, ``tn`` (notebook 03)."""
    labels, probabilities = check_inputs(labels, probabilities)
    called = probabilities >= threshold
    sick = labels == 1
    return {"tp": int(np.sum(called & sick)), "fn": int(np.sum(~called & sick)),
            "fp": int(np.sum(called & ~sick)), "tn": int(np.sum(~called & ~sick))}


def metrics_from_counts(tp: int, fn: int, fp: int, tn: int) -> dict:
    """Sensitivity, specificity, PPV, NPV, accuracy and prevalence from the four counts of a 2x2 table."""
    return {"sensitivity": _ratio(tp, tp + fn),   # of the sick, how many it finds
            "specificity": _ratio(tn, tn + fp),   # of the healthy, how many it clears
            "ppv": _ratio(tp, tp + fp),           # of those it calls sick, how many are
            "npv": _ratio(tn, tn + fn),           # of those it clears, how many are healthy
            "accuracy": _ratio(tp + tn, tp + fn + fp + tn),
            "prevalence": _ratio(tp + fn, tp + fn + fp + tn)}


def clinical_metrics(labels, probabilities, threshold: float = 0.5) -> dict:
    """Sensitivity, specificity, PPV, NPV and accuracy at ``threshold``, with the counts behind them (notebook 03).

    >>> m = clinical_metrics(test_labels, probabilities, threshold=0.5)
    >>> m["sensitivity"]
    """
    counts = confusion_counts(labels, probabilities, threshold)
    return {**metrics_from_counts(**counts), **counts, "threshold": float(threshold)}


def predictive_values(sensitivity: float, specificity: float, prevalence: float) -> dict:
    """PPV and NPV of a test with this sensitivity and specificity where the disease has this prevalence (Bayes).

    Sensitivity and specificity belong to the test; PPV and NPV also depend on
    how common the disease is among the patients tested. Of 1,000 patients at
    prevalence p, 1,000 p are sick: the test finds sensitivity x 1,000 p of them,
    and wrongly calls (1 - specificity) x 1,000 (1 - p) of the healthy sick.
    PPV = true alarms / all alarms (notebook 03).
    """
    for name, value in (("sensitivity", sensitivity), ("specificity", specificity), ("prevalence", prevalence)):
        if not 0 <= value <= 1:
            raise RadkitError(f"{name} must be a fraction from 0 to 1; got {value}.",
                              "Write 5 % as 0.05 and 95 % as 0.95.")
    true_alarms = sensitivity * prevalence
    false_alarms = (1 - specificity) * (1 - prevalence)
    true_clears = specificity * (1 - prevalence)
    missed = (1 - sensitivity) * prevalence
    return {"ppv": _ratio(true_alarms, true_alarms + false_alarms),
            "npv": _ratio(true_clears, true_clears + missed), "prevalence": float(prevalence)}


def auc(labels, probabilities) -> float:
    """Area under the ROC curve: the chance that a random sick film gets a higher probability than a healthy one."""
    from sklearn.metrics import roc_auc_score

    labels, probabilities = check_inputs(labels, probabilities, need_both=True, what="the AUC")
    return float(roc_auc_score(labels, probabilities))


def average_precision(labels, probabilities) -> float:
    """Area under the precision-recall curve (average precision)."""
    from sklearn.metrics import average_precision_score

    labels, probabilities = check_inputs(labels, probabilities, need_both=True, what="the precision-recall area")
    return float(average_precision_score(labels, probabilities))


def format_metrics(metrics: dict, label_names=LABEL_NAMES) -> str:
    """The metrics of ``clinical_metrics`` as a few lines of plain text, with the counts behind each rate."""
    m, pos, neg = metrics, label_names[1], label_names[0]

    def pct(x):
        return "  n/a " if np.isnan(x) else f"{100 * x:5.1f} %"

    return "\n".join([
        f"threshold {m['threshold']:.2f}",
        f"sensitivity {pct(m['sensitivity'])}  ({m['tp']} of {m['tp'] + m['fn']} {pos} films found)",
        f"specificity {pct(m['specificity'])}  ({m['tn']} of {m['tn'] + m['fp']} {neg} films cleared)",
        f"PPV         {pct(m['ppv'])}  ({m['tp']} of {m['tp'] + m['fp']} films called {pos} really are)",
        f"NPV         {pct(m['npv'])}  ({m['tn']} of {m['tn'] + m['fn']} films called {neg} really are)",
        f"accuracy    {pct(m['accuracy'])}  ({m['tp'] + m['tn']} of {m['tp'] + m['fn'] + m['fp'] + m['tn']} right)"])


def choose_threshold(labels, probabilities, rule: str = "youden", target: float = 0.95) -> float:
    """Pick a threshold from the validation films (notebook 03).

    - ``"youden"``: the best balance, where sensitivity + specificity is largest;
    - ``"sensitivity"`` (screening): the highest threshold that still finds at least ``target`` of the sick;
    - ``"specificity"`` (confirmation): the lowest threshold that clears at least ``target`` of the healthy.

    Choose on validation films, then judge on test films: a threshold chosen on
    the test films flatters the result.
    """
    from sklearn.metrics import roc_curve

    labels, probabilities = check_inputs(labels, probabilities, need_both=True, what="choosing a threshold")
    if not 0 < target <= 1:
        raise RadkitError(f"target must be a fraction between 0 and 1; got {target}.", "For 95 % use target=0.95.")
    fpr, tpr, thresholds = roc_curve(labels, probabilities, drop_intermediate=False)
    thresholds = np.clip(thresholds, 0.0, 1.0)  # the first is "above every film", stored as infinity
    if rule == "youden":
        best = int(np.argmax(tpr - fpr))
    elif rule == "sensitivity":
        best = int(np.flatnonzero(tpr >= target)[0])         # thresholds fall as tpr rises
    elif rule == "specificity":
        best = int(np.flatnonzero(1 - fpr >= target)[-1])
    else:
        raise RadkitError(f"rule={rule!r} is not one RadKit knows.",
                          "Use 'youden' (balance), 'sensitivity' (screening) or 'specificity' (confirmation).")
    return float(thresholds[best])


def _metric_function(metric, threshold: float):
    if callable(metric):
        return metric
    if metric == "auc":
        return auc
    if metric == "average_precision":
        return average_precision
    if metric in METRICS:
        return lambda y, p: clinical_metrics(y, p, threshold)[metric]
    raise RadkitError(f"metric={metric!r} is not one RadKit knows.",
                      f"Use one of {', '.join(CURVE_METRICS + METRICS)}, or a function f(labels, probabilities).")


def bootstrap_ci(labels, probabilities, metric="auc", threshold: float = 0.5, n_boot: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> dict:
    """A confidence interval for any metric by the bootstrap (notebook 03).

    Draw the test films again, with replacement, ``n_boot`` times; compute the
    metric on each draw; the middle ``confidence`` of those values is the
    interval (percentile method). Same seed, same interval.
    Returns ``{"estimate", "low", "high", "n_boot", "confidence"}``.
    """
    labels, probabilities = check_inputs(labels, probabilities)
    compute = _metric_function(metric, threshold)
    if int(n_boot) < 10:
        raise RadkitError(f"n_boot={n_boot} is too few draws for an interval.", "Use at least 100 (1000 is usual).")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(int(n_boot)):
        pick = rng.integers(0, len(labels), len(labels))
        y = labels[pick]
        if metric in CURVE_METRICS and y.min() == y.max():  # a draw with one kind of film only has no AUC
            continue
        values.append(compute(y, probabilities[pick]))
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return {"estimate": float(compute(labels, probabilities)), "low": float(low), "high": float(high),
            "n_boot": int(len(values)), "confidence": float(confidence)}


def format_interval(ci: dict, digits: int = 3) -> str:
    """An estimate with its interval as text: ``0.812 (0.761 to 0.859)``; ``n/a`` when there is none."""
    if ci is None or not np.isfinite(ci.get("estimate", np.nan)):
        return "n/a"
    return f"{ci['estimate']:.{digits}f} ({ci['low']:.{digits}f} to {ci['high']:.{digits}f})"
