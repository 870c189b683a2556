"""Tests for radkit.evaluate: clinical metrics, Bayes, bootstrap, thresholds, the slider, folders, bad input."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from radkit import evaluate  # noqa: E402
from radkit.errors import RadkitError  # noqa: E402

# A hand-made 2x2 table: 8 sick (6 found, 2 missed), 12 healthy (3 false alarms, 9 cleared).
LABELS = np.array([1] * 8 + [0] * 12)
PROBS = np.array([0.9, 0.8, 0.7, 0.95, 0.6, 0.55, 0.3, 0.2] + [0.7, 0.6, 0.51] + [0.1, 0.2, 0.3, 0.4, 0.45,
                                                                                    0.05, 0.15, 0.25, 0.35])


def test_counts_and_metrics_match_a_table_worked_by_hand():
    m = evaluate.clinical_metrics(LABELS, PROBS, threshold=0.5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (6, 2, 3, 9)
    assert m["sensitivity"] == pytest.approx(6 / 8)
    assert m["specificity"] == pytest.approx(9 / 12)
    assert m["ppv"] == pytest.approx(6 / 9)
    assert m["npv"] == pytest.approx(9 / 11)
    assert m["accuracy"] == pytest.approx(15 / 20)
    assert m["prevalence"] == pytest.approx(8 / 20)


def test_threshold_is_inclusive_and_moves_the_counts():
    assert evaluate.confusion_counts([1, 0], [0.5, 0.5], threshold=0.5) == {"tp": 1, "fn": 0, "fp": 1, "tn": 0}
    low = evaluate.clinical_metrics(LABELS, PROBS, threshold=0.1)
    high = evaluate.clinical_metrics(LABELS, PROBS, threshold=0.9)
    assert low["sensitivity"] > high["sensitivity"] and low["specificity"] < high["specificity"]


def test_undefined_rate_is_nan_not_a_crash():
    m = evaluate.clinical_metrics(LABELS, PROBS, threshold=1.0)  # nothing called positive: PPV is 0/0
    assert math.isnan(m["ppv"]) and m["specificity"] == 1.0
    assert "n/a" in evaluate.format_metrics(m)


def test_predictive_values_follow_bayes():
    # 1000 patients, prevalence 1 %: 10 sick, 9 found; 990 healthy, 99 false alarms.
    pv = evaluate.predictive_values(0.9, 0.9, 0.01)
    assert pv["ppv"] == pytest.approx(9 / (9 + 99))
    assert pv["npv"] == pytest.approx(891 / (891 + 1))
    # At the prevalence of the sample, Bayes gives back the PPV counted from the table.
    m = evaluate.clinical_metrics(LABELS, PROBS, 0.5)
    assert evaluate.predictive_values(m["sensitivity"], m["specificity"], m["prevalence"])["ppv"] == \
        pytest.approx(m["ppv"])
    with pytest.raises(RadkitError, match="fraction"):
        evaluate.predictive_values(90, 0.9, 0.1)


def test_auc_and_curves():
    assert evaluate.auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert evaluate.auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    fig = evaluate.plot_curves(LABELS, PROBS, threshold=0.5)
    assert len(fig.axes) == 2 and "AUC" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_bootstrap_contains_estimate_and_repeats_with_seed():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    probs = np.clip(0.3 * labels + 0.7 * rng.random(200), 0, 1)
    first = evaluate.bootstrap_ci(labels, probs, "auc", n_boot=200, seed=3)
    assert first["low"] <= first["estimate"] <= first["high"] and first["low"] < first["high"]
    assert first == evaluate.bootstrap_ci(labels, probs, "auc", n_boot=200, seed=3)
    assert first != evaluate.bootstrap_ci(labels, probs, "auc", n_boot=200, seed=4)
    sens = evaluate.bootstrap_ci(labels, probs, "sensitivity", threshold=0.5, n_boot=200)
    assert sens["estimate"] == pytest.approx(evaluate.clinical_metrics(labels, probs, 0.5)["sensitivity"])
    narrow = evaluate.bootstrap_ci(labels, probs, "auc", n_boot=200, confidence=0.5, seed=3)
    assert narrow["high"] - narrow["low"] < first["high"] - first["low"]
    with pytest.raises(RadkitError, match="metric"):
        evaluate.bootstrap_ci(labels, probs, "kappa")


def test_choose_threshold_rules():
    youden = evaluate.choose_threshold(LABELS, PROBS, "youden")
    m = evaluate.clinical_metrics(LABELS, PROBS, youden)
    best = max(evaluate.clinical_metrics(LABELS, PROBS, t)["sensitivity"]
               + evaluate.clinical_metrics(LABELS, PROBS, t)["specificity"] for t in np.unique(PROBS))
    assert m["sensitivity"] + m["specificity"] == pytest.approx(best)
    screen = evaluate.choose_threshold(LABELS, PROBS, "sensitivity", target=1.0)
    assert evaluate.clinical_metrics(LABELS, PROBS, screen)["sensitivity"] == 1.0
    assert evaluate.clinical_metrics(LABELS, PROBS, screen + 1e-9)["sensitivity"] < 1.0  # the highest such
    confirm = evaluate.choose_threshold(LABELS, PROBS, "specificity", target=1.0)
    assert evaluate.clinical_metrics(LABELS, PROBS, confirm)["specificity"] == 1.0
    with pytest.raises(RadkitError, match="rule"):
        evaluate.choose_threshold(LABELS, PROBS, "best")


def test_threshold_slider_builds_and_updates():
    slider = evaluate.threshold_slider(LABELS, PROBS, threshold=0.5)
    assert slider.slider.value == 0.5 and slider.widget.children[0] is slider.slider
    assert "sensitivity  75.0 %" in slider.summary()
    slider.slider.value = 0.05  # the live update runs without error and the numbers follow
    assert "sensitivity 100.0 %" in slider.summary()


def test_static_threshold_figure_and_calibration():
    fig = evaluate.show_thresholds(LABELS, PROBS, thresholds=(0.3, 0.6))
    assert len(fig.axes) == 2 and "sensitivity" in fig.axes[0].get_title()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("pneumonia\nmissed" in t for t in texts) and any("false alarm" in t for t in texts)
    fraction, mean = evaluate.plot_calibration(LABELS, PROBS, n_bins=5)
    assert len(fraction) == len(mean) and np.all((0 <= fraction) & (fraction <= 1))


@pytest.mark.parametrize("labels, probs, message", [
    (np.ones(6, int), np.linspace(0, 1, 6), "both kinds"),
    (np.zeros(6, int), np.linspace(0, 1, 6), "both kinds"),
    (LABELS, PROBS[:-1], "20 labels but 19"),
    (LABELS, PROBS * 10, "from 0 to 1"),
    (LABELS, np.where(PROBS > 0.5, np.nan, PROBS), "NaN"),
    (LABELS * 2, PROBS, "must be 0"),
])
def test_bad_input_says_what_to_do(labels, probs, message):
    with pytest.raises(RadkitError, match=message) as error:
        evaluate.auc(labels, probs)
    assert error.value.fix


def test_predict_folder_gives_a_row_per_file(tmp_path, capsys):
    from PIL import Image

    class Brightness:  # a stand-in model: the probability is the mean brightness
        input_shape = (None, 16, 16, 1)

        def __call__(self, x, training=False):
            return x.mean(axis=(1, 2))

    Image.fromarray(np.full((20, 20), 230, np.uint8)).save(tmp_path / "bright.png")
    Image.fromarray(np.full((20, 20), 20, np.uint8)).save(tmp_path / "dark.png")
    colour = np.zeros((20, 20, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(tmp_path / "colour.png")
    (tmp_path / "notes.txt").write_text("not a picture")
    rows = evaluate.predict_folder(Brightness(), tmp_path, threshold=0.5)
    by_file = {r["file"]: r for r in rows}
    assert by_file["bright.png"]["prediction"] == "pneumonia" and by_file["dark.png"]["prediction"] == "normal"
    assert by_file["bright.png"]["probability"] == pytest.approx(230 / 255, abs=1e-3)
    assert "colour" in by_file["colour.png"]["note"] and math.isnan(by_file["colour.png"]["probability"])
    assert "not a PNG" in by_file["notes.txt"]["note"]
    assert "bright.png" in capsys.readouterr().out
    with pytest.raises(RadkitError, match="no folder"):
        evaluate.predict_folder(Brightness(), tmp_path / "missing")


# Bug caught: the legend of the overall line drawn inside the axes, over the rows (it covered the PA row that
# notebook 10's Exercise 3 asks about). Seen failing with the legend in the lower right.
def test_plot_subgroups_names_the_overall_line_without_a_legend_over_the_rows():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 40)
    p = np.clip(y * 0.4 + rng.random(len(y)) * 0.6, 0, 1)
    rows = evaluate.subgroups(y, p, {"view": np.array(["AP", "PA"] * 40)}, n_boot=50)
    ax = evaluate.plot_subgroups(rows, "auc", overall=0.8)
    assert ax.get_legend() is None
    assert "dotted line: all films (0.80)" in ax.get_xlabel()
    plt.close(ax.figure)
