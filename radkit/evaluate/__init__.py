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

from radkit.evaluate.metrics import (  # noqa: F401
    LABEL_NAMES, METRICS, CURVE_METRICS, check_inputs, confusion_counts, metrics_from_counts,
    clinical_metrics, predictive_values, auc, average_precision, format_metrics, choose_threshold,
    bootstrap_ci, format_interval
)
from radkit.evaluate.groups import per_finding, subgroups, format_rows  # noqa: F401
from radkit.evaluate.plots import (  # noqa: F401
    plot_confusion_matrix, plot_roc, plot_precision_recall, plot_curves, plot_probabilities,
    threshold_figure, ThresholdSlider, threshold_slider, show_thresholds, plot_calibration, plot_subgroups
)
from radkit.evaluate.predictions import (  # noqa: F401
    model_outputs, predict_probabilities, FolderPredictions, predict_folder, format_table, predict_outputs
)
