"""Pictures of a model's performance: confusion matrix, ROC and precision-recall curves, probabilities,
the threshold slider, calibration and subgroup plots. Introduced in notebook 03_judging_a_model.
"""

from __future__ import annotations

import numpy as np

from radkit.evaluate.metrics import LABEL_NAMES, auc, average_precision, check_inputs, clinical_metrics, confusion_counts, format_metrics


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


def plot_subgroups(rows: list[dict], metric: str = "auc", overall: float | None = None, ax=None):
    """Each subgroup's estimate with its interval as a line: the wider the line, the less we know (notebook 10)."""
    shown = [r for r in rows if np.isfinite(r[metric]["estimate"])]
    ax = _axes(ax, figsize=(6, 0.4 * len(shown) + 1.2))
    for i, r in enumerate(shown):
        ci = r[metric]
        ax.plot([ci["low"], ci["high"]], [i, i], color="tab:blue", lw=2)
        ax.plot(ci["estimate"], i, "o", color="tab:blue")
    # The overall value is named in the axis label, not in a legend: a legend inside the axes covers a row.
    where = ""
    if overall is not None:
        ax.axvline(overall, color="grey", linestyle=":")
        where = f"; dotted line: all films ({overall:.2f})"
    ax.set_yticks(range(len(shown)), [f"{r['group']} {r['value']} (n={r['n']})" for r in shown])
    ax.set(xlabel=f"{metric} (95 % interval){where}", xlim=(0, 1.02), title=f"{metric} by subgroup")
    ax.invert_yaxis()
    return ax
