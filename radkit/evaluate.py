"""Judging a classifier like a diagnostic test: counts, rates, curves, thresholds and uncertainty.

Introduced in notebook 03_evaluating_like_a_clinician. Everything takes the
true labels (0 = normal, 1 = the finding, e.g. pneumonia) and the model's
probabilities (numbers 0..1), as plain NumPy arrays:

- ``clinical_metrics`` - sensitivity, specificity, PPV, NPV and accuracy at one threshold;
- ``plot_confusion_matrix`` - the four counts, in clinical words ("pneumonia missed");
- ``plot_curves`` - ROC and precision-recall curves with their areas;
- ``threshold_slider`` and ``show_thresholds`` - what moving the threshold does;
- ``predictive_values`` - PPV and NPV at another prevalence (Bayes);
- ``plot_calibration`` - does "70 %" mean 70 out of 100?;
- ``bootstrap_ci`` - how sure we can be of any of these numbers;
- ``choose_threshold`` - a threshold for screening or for confirmation;
- ``predict_folder`` - the model's answers for a folder of your own pictures.

A film counts as positive when its probability is at or above the threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

LABEL_NAMES = ("normal", "pneumonia")
METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy")
CURVE_METRICS = ("auc", "average_precision")


# ---------------------------------------------------------------- checking the input

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


# ---------------------------------------------------------------- counts and rates

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


# ---------------------------------------------------------------- pictures

def _axes(ax, figsize=(4.5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_confusion_matrix(labels, probabilities, threshold: float = 0.5, label_names=LABEL_NAMES, ax=None):
    """Draw the 2x2 table at ``threshold``, each box named in clinical words ("pneumonia missed") (notebook 03)."""
    from matplotlib.patches import Rectangle

    c = confusion_counts(labels, probabilities, threshold)
    neg, pos = label_names
    ax = _axes(ax)
    # Rows: the truth. Columns: the model's call. Green where it is right, red where it is wrong.
    boxes = [[("tn", f"{neg}\ncorrectly cleared", "#d9f0d3"), ("fp", "false alarm", "#f4cccc")],
             [("fn", f"{pos}\nmissed", "#f4cccc"), ("tp", f"{pos}\nfound", "#d9f0d3")]]
    for row, line in enumerate(boxes):
        for col, (key, words, colour) in enumerate(line):
            ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor=colour, edgecolor="white", linewidth=3))
            ax.text(col, row - 0.12, str(c[key]), ha="center", va="center", fontsize=18, weight="bold")
            ax.text(col, row + 0.22, f"{words}\n({key.upper()})", ha="center", va="center", fontsize=9)
    ax.set(xlim=(-0.5, 1.5), ylim=(1.5, -0.5), xticks=[0, 1], yticks=[0, 1],
           xticklabels=[f"called {neg}", f"called {pos}"], yticklabels=[f"truly\n{neg}", f"truly\n{pos}"],
           title=f"Threshold {threshold:.2f}")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def plot_roc(labels, probabilities, threshold: float | None = None, ax=None):
    """ROC curve (sensitivity against 1 - specificity) with its AUC; ``threshold`` marks one operating point."""
    from sklearn.metrics import roc_curve

    labels, probabilities = check_inputs(labels, probabilities, need_both=True, what="an ROC curve")
    fpr, tpr, _ = roc_curve(labels, probabilities)
    ax = _axes(ax)
    ax.plot(fpr, tpr, lw=2, label=f"model (AUC {auc(labels, probabilities):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="coin toss (AUC 0.5)")
    m = clinical_metrics(labels, probabilities, threshold) if threshold is not None else None
    return _finish_curve(ax, m and (1 - m["specificity"], m["sensitivity"]), threshold, "lower right",
                         xlabel="1 - specificity (false alarms among the healthy)",
                         ylabel="sensitivity (sick films found)", title="ROC curve")


def _finish_curve(ax, point, threshold, legend_at: str, **labels):
    """Mark the threshold's operating point (red), label the axes, square 0..1 limits, a legend."""
    if point is not None:
        ax.plot(*point, "o", color="crimson", ms=9, label=f"threshold {threshold:.2f}")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal", **labels)
    ax.legend(loc=legend_at, fontsize=8)
    return ax


def plot_precision_recall(labels, probabilities, threshold: float | None = None, ax=None):
    """Precision-recall curve (PPV against sensitivity) with its area; the dotted line is the prevalence."""
    from sklearn.metrics import precision_recall_curve

    labels, probabilities = check_inputs(labels, probabilities, need_both=True, what="a precision-recall curve")
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    ax = _axes(ax)
    ax.plot(recall, precision, lw=2, label=f"model (area {average_precision(labels, probabilities):.3f})")
    prevalence = labels.mean()
    ax.axhline(prevalence, linestyle=":", color="grey", label=f"guessing (= prevalence {prevalence:.2f})")
    m = clinical_metrics(labels, probabilities, threshold) if threshold is not None else None
    return _finish_curve(ax, m and (m["sensitivity"], m["ppv"]), threshold, "lower left",
                         xlabel="sensitivity (recall)", ylabel="PPV (precision)", title="Precision-recall curve")


def plot_curves(labels, probabilities, threshold: float | None = None):
    """The ROC and precision-recall curves side by side (notebook 03). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    plot_roc(labels, probabilities, threshold, ax=axes[0])
    plot_precision_recall(labels, probabilities, threshold, ax=axes[1])
    fig.tight_layout()
    return fig


def plot_probabilities(labels, probabilities, threshold: float | None = None, label_names=LABEL_NAMES, ax=None):
    """Histograms of the probabilities the model gave to truly negative and truly positive films."""
    labels, probabilities = check_inputs(labels, probabilities)
    ax = _axes(ax)
    bins = np.linspace(0, 1, 21)
    for value, colour in ((0, "tab:blue"), (1, "tab:orange")):
        ax.hist(probabilities[labels == value], bins=bins, alpha=0.6, color=colour,
                label=f"truly {label_names[value]}")
    if threshold is not None:
        ax.axvline(threshold, color="crimson", lw=2, label=f"threshold {threshold:.2f}")
    ax.set(xlabel=f"model's probability of {label_names[1]}", ylabel="number of films",
           title="Where the films fall")
    ax.legend(fontsize=8)
    return ax


def threshold_figure(labels, probabilities, threshold: float = 0.5, label_names=LABEL_NAMES):
    """One threshold seen three ways: where the films fall, the 2x2 table, the point on the ROC curve."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    plot_probabilities(labels, probabilities, threshold, label_names, ax=axes[0])
    plot_confusion_matrix(labels, probabilities, threshold, label_names, ax=axes[1])
    plot_roc(labels, probabilities, threshold, ax=axes[2])
    m = clinical_metrics(labels, probabilities, threshold)
    fig.suptitle(f"threshold {threshold:.2f}:  sensitivity {m['sensitivity']:.1%}   specificity "
                 f"{m['specificity']:.1%}   PPV {m['ppv']:.1%}   NPV {m['npv']:.1%}", fontsize=12)
    fig.tight_layout()
    return fig


class ThresholdSlider:
    """A threshold slider: moving it redraws the 2x2 table, the ROC point and the numbers (see ``threshold_slider``)."""

    def __init__(self, labels, probabilities, threshold: float = 0.5, label_names=LABEL_NAMES):
        import ipywidgets as widgets

        self.labels, self.probabilities = check_inputs(labels, probabilities, need_both=True,
                                                       what="the threshold slider")
        self.label_names = tuple(label_names)
        self.slider = widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.01, description="threshold",
                                          continuous_update=False, readout_format=".2f",
                                          layout=widgets.Layout(width="500px"))
        self.output = widgets.Output()  # the live picture and numbers, redrawn on every move
        self.widget = widgets.VBox([self.slider, self.output])
        self._first_view = None
        self.slider.observe(self._redraw, names="value")

    def summary(self, threshold: float | None = None) -> str:
        """The numbers at a threshold (the slider's, by default) as text."""
        threshold = self.slider.value if threshold is None else threshold
        return format_metrics(clinical_metrics(self.labels, self.probabilities, threshold), self.label_names)

    def draw(self, threshold: float) -> None:
        """Show the picture and the numbers at ``threshold``."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        display(threshold_figure(self.labels, self.probabilities, threshold, self.label_names))
        plt.close("all")
        print(self.summary(threshold))

    def _redraw(self, change) -> None:
        if self._first_view is not None:  # the saved first view makes way for the live one
            self._first_view.update({"text/plain": ""}, raw=True)
            self._first_view = None
        with self.output:
            self.output.clear_output(wait=True)
            self.draw(change["new"])

    def _ipython_display_(self):
        # The first view is an ordinary output, so it is saved with the notebook and shows on any viewer;
        # moves of the slider then draw into the widget's own Output area.
        import matplotlib.pyplot as plt
        from IPython.display import display

        display(self.widget)
        figure = threshold_figure(self.labels, self.probabilities, self.slider.value, self.label_names)
        self._first_view = display({"image/png": _png(figure), "text/plain": self.summary()}, raw=True,
                                   display_id=True)
        plt.close(figure)


def _png(figure) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def threshold_slider(labels, probabilities, threshold: float = 0.5, label_names=LABEL_NAMES) -> ThresholdSlider:
    """A slider that moves the threshold and updates the 2x2 table, the ROC point and the numbers live (notebook 03).

    Make it the last line of a cell to show it. Under the slider you first see
    the picture and numbers at the starting threshold; move it and they follow.
    """
    return ThresholdSlider(labels, probabilities, threshold, label_names)


def show_thresholds(labels, probabilities, thresholds=(0.2, 0.5, 0.8), label_names=LABEL_NAMES):
    """The 2x2 table at several thresholds side by side, each titled with its sensitivity and specificity.

    A still picture of what the slider does. Returns the figure.
    """
    import matplotlib.pyplot as plt

    thresholds = list(thresholds)
    fig, axes = plt.subplots(1, len(thresholds), figsize=(4.3 * len(thresholds), 4.4), squeeze=False)
    for ax, threshold in zip(axes[0], thresholds):
        plot_confusion_matrix(labels, probabilities, threshold, label_names, ax=ax)
        m = clinical_metrics(labels, probabilities, threshold)
        ax.set_title(f"threshold {threshold:.2f}\nsensitivity {m['sensitivity']:.0%}, "
                     f"specificity {m['specificity']:.0%}")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- thresholds

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


# ---------------------------------------------------------------- calibration

def plot_calibration(labels, probabilities, n_bins: int = 10, ax=None):
    """Calibration curve: of the films given about 70 %, are about 70 % really positive? (notebook 03)

    Points on the diagonal mean the probabilities can be read as risks.
    Returns ``(fraction_positive, mean_probability)`` per bin.
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    labels, probabilities = check_inputs(labels, probabilities, need_both=True, what="a calibration curve")
    fraction_positive, mean_probability = calibration_curve(labels, probabilities, n_bins=n_bins)
    ax = _axes(ax)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot(mean_probability, fraction_positive, "o-", lw=2,
            label=f"model (Brier score {brier_score_loss(labels, probabilities):.3f})")
    _finish_curve(ax, None, None, "upper left", xlabel="model's probability (average in each bin)",
                  ylabel="fraction truly positive", title="Calibration")
    return fraction_positive, mean_probability


# ---------------------------------------------------------------- uncertainty

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


# ---------------------------------------------------------------- predictions

def model_outputs(model, x, batch_size: int = 256) -> np.ndarray:
    """The model's raw outputs for model input ``x``, batch by batch.

    Calls the model directly rather than ``model.predict``, which builds a new
    TensorFlow function for every new model and warns about it when a notebook
    trains several.
    """
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def predict_probabilities(model, images, batch_size: int = 256) -> np.ndarray:
    """The model's probability of the finding for each picture (uint8 pictures or model input) (notebook 03)."""
    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 or images.ndim == 3 else images.astype(np.float32)
    output = model_outputs(model, x, batch_size)
    if output.ndim == 2 and output.shape[1] == 2:  # two softmax outputs: take the finding's
        return output[:, 1]
    if output.ndim != 2 or output.shape[1] != 1:
        raise RadkitError(f"The model gives {output.shape[1:]} numbers per picture; these metrics need one "
                          "probability (a yes/no model).", "Use a model with one sigmoid output, e.g. "
                          "radkit.models.small_cnn(n_outputs=1).")
    return output[:, 0]


class FolderPredictions(list):
    """The rows of ``predict_folder`` (a list of dicts), with ``metrics`` when the sub-folders gave the truth."""

    metrics: dict | None = None


def _truth_folder(parts: tuple) -> str | None:
    """The label sub-folder a file sits in (``label/x.png`` or ``test/label/x.png``), or None."""
    from radkit.data import SPLIT_FOLDERS

    if len(parts) >= 3 and parts[0].lower() in SPLIT_FOLDERS:
        return parts[1]
    return parts[0] if len(parts) >= 2 else None


def predict_folder(model, folder, size: int | None = None, threshold: float = 0.5,
                   label_names=None, show: bool = True) -> FolderPredictions:
    """The model's answer for every picture in a folder of your own (PNG, JPEG, DICOM, ...) (notebook 03).

    Returns one row per file: ``file``, ``probability``, ``prediction``, ``truth`` and a
    ``note`` (why a file was skipped: colour, unreadable, not a picture). Sub-folders are included.
    When the pictures sit in label sub-folders (``normal/``, ``pneumonia/``, or ``test/normal/`` ...),
    those are the truth: the result ends with sensitivity, specificity, PPV, NPV and AUC (also in
    ``.metrics``). ``label_names`` default to the sub-folder names (sorted, as ``load_image_folder``
    numbers them), else the course's ("normal", "pneumonia"). ``size`` defaults to the model's input size.
    """
    from radkit import data

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the path (copy it from your file manager).")
    size = size or model.input_shape[1]
    supported = data.IMAGE_SUFFIXES | data.DICOM_SUFFIXES
    rows, pictures = FolderPredictions(), []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(folder)
        row = {"file": str(relative), "probability": float("nan"), "prediction": "-",
               "truth": _truth_folder(relative.parts), "note": ""}
        rows.append(row)
        if path.suffix.lower() not in supported and not data.is_dicom(path):
            row["note"] = (f"skipped: {path.suffix or 'no extension'} is not a PNG, JPEG, DICOM, GIF, WebP, "
                           "TIFF or BMP file")
            continue
        try:
            pictures.append(data.to_model_input(data.read_image(path), size))
            row["probability"] = None
        except RadkitError as error:
            row["note"] = f"skipped: {error.problem}"
    if not pictures:
        raise RadkitError(f"{folder} holds no pictures RadKit can read.",
                          "Put PNG, JPEG or DICOM files in it (grey, not colour).")
    read = [row for row in rows if row["probability"] is None]
    folders = sorted({row["truth"] for row in read if row["truth"] is not None})
    has_truth = len(folders) >= 2 and all(row["truth"] is not None for row in read)
    if label_names is None:
        label_names = folders if has_truth and len(folders) == 2 else LABEL_NAMES
    label_names = list(label_names)
    for row, p in zip(read, predict_probabilities(model, np.concatenate(pictures))):
        row["probability"] = float(p)
        row["prediction"] = label_names[int(p >= threshold)]
    if not has_truth:
        for row in rows:
            row["truth"] = None
    if show:
        print(format_table(rows, limit=20 if has_truth else None))
    if has_truth:
        rows.metrics = _folder_metrics(read, label_names, threshold, show)
    return rows


def _folder_metrics(read: list[dict], label_names: list, threshold: float, show: bool) -> dict | None:
    """Sensitivity, specificity, PPV, NPV and AUC with the sub-folder names as the truth."""
    lower = [str(name).lower() for name in label_names]
    unknown = sorted({row["truth"] for row in read if row["truth"].lower() not in lower})
    if unknown or len(label_names) != 2:
        if show:
            print(f"Note: no clinical metrics: the sub-folders ({', '.join(sorted({r['truth'] for r in read}))}) "
                  f"are not the model's two labels ({', '.join(map(str, label_names))}).")
        return None
    truth = np.array([lower.index(row["truth"].lower()) for row in read])
    probabilities = np.array([row["probability"] for row in read])
    metrics = clinical_metrics(truth, probabilities, threshold)
    metrics["auc"] = auc(truth, probabilities) if len(set(truth)) == 2 else float("nan")
    if show:
        print(f"\nThe sub-folder names as the truth ({len(read)} pictures; {label_names[1]} = positive):")
        print(format_metrics(metrics, label_names))
        print("AUC         " + ("  n/a  (needs pictures of both labels)" if np.isnan(metrics["auc"])
                                else f"{metrics['auc']:.3f}"))
    return metrics


def format_table(rows: list[dict], limit: int | None = None) -> str:
    """Rows of ``predict_folder`` as a text table (probabilities as percentages); at most ``limit`` rows."""
    shown = rows if limit is None or len(rows) <= limit else rows[:limit]
    truth = any(r.get("truth") for r in rows)
    width = max(len("file"), *(len(r["file"]) for r in shown))
    lines = [f"{'file':{width}s}  probability  prediction  " + ("truth       " if truth else "") + "note"]
    for r in shown:
        p = "     -" if np.isnan(r["probability"]) else f"{100 * r['probability']:5.1f} %"
        t = f"{r.get('truth') or '-':10s}  " if truth else ""
        lines.append(f"{r['file']:{width}s}  {p:>11s}  {r['prediction']:10s}  {t}{r['note']}".rstrip())
    if len(shown) < len(rows):
        lines.append(f"... and {len(rows) - len(shown)} more rows (all of them are in the list this returns)")
    return "\n".join(lines)


# ---------------------------------------------------------------- several findings, subgroups (notebooks 06, 10)

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


def format_interval(ci: dict, digits: int = 3) -> str:
    """An estimate with its interval as text: ``0.812 (0.761 to 0.859)``; ``n/a`` when there is none."""
    if ci is None or not np.isfinite(ci.get("estimate", np.nan)):
        return "n/a"
    return f"{ci['estimate']:.{digits}f} ({ci['low']:.{digits}f} to {ci['high']:.{digits}f})"


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


def predict_outputs(model, images, batch_size: int = 256) -> np.ndarray:
    """All of a model's outputs for each picture, e.g. one probability per finding (notebook 06)."""
    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 or images.ndim == 3 else images.astype(np.float32)
    return model_outputs(model, x, batch_size)


def plot_subgroups(rows: list[dict], metric: str = "auc", overall: float | None = None, ax=None):
    """Each subgroup's estimate with its interval as a line: the wider the line, the less we know (notebook 10)."""
    shown = [r for r in rows if np.isfinite(r[metric]["estimate"])]
    ax = _axes(ax, figsize=(6, 0.4 * len(shown) + 1.2))
    for i, r in enumerate(shown):
        ci = r[metric]
        ax.plot([ci["low"], ci["high"]], [i, i], color="tab:blue", lw=2)
        ax.plot(ci["estimate"], i, "o", color="tab:blue")
    if overall is not None:
        ax.axvline(overall, color="grey", linestyle=":", label=f"all films ({overall:.2f})")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(range(len(shown)), [f"{r['group']} {r['value']} (n={r['n']})" for r in shown])
    ax.set(xlabel=f"{metric} (95 % interval)", xlim=(0, 1.02), title=f"{metric} by subgroup")
    ax.invert_yaxis()
    return ax
