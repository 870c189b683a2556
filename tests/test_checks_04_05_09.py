"""The exercise checks of notebooks 04, 05 and 09 reject the plausible wrong answers issue 9 found accepted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radkit.checks import nb04, nb05, nb09

RESULTS = {  # named so that the last name alphabetically is the weakest model, as in notebook 04
    "MobileNetV2, pretrained, frozen": {"AUC": 0.92},
    "MobileNetV2, random weights, frozen": {"AUC": 0.50},
    "MobileNetV2, pretrained, fine-tuned": {"AUC": 0.95},
    "CNN from notebook 02": {"AUC": 0.96},
}


# Catches: q3 accepting max(results), which compares names alphabetically (issue 9 §3), or a number for a name.
def test_nb04_best_rejects_alphabetical_max_min_and_numbers():
    assert nb04._best("CNN from notebook 02", RESULTS) is None
    assert "alphabetically" in nb04._best(max(RESULTS), RESULTS)
    assert "LOWEST" in nb04._best(min(RESULTS, key=lambda n: RESULTS[n]["AUC"]), RESULTS)
    assert "not its AUC" in nb04._best(0.96, RESULTS)


# Catches: the 04 demo's key names drifting so that alphabetical order picks the best model again.
def test_nb04_names_keep_the_alphabetical_trap():
    best = max(RESULTS, key=lambda n: RESULTS[n]["AUC"])
    assert max(RESULTS) != best and max(RESULTS) == "MobileNetV2, random weights, frozen"


# Catches: q3 of 05 accepting the sensitivity of the marked films (issue 9 §3) or the specificity.
def test_nb05_clean_sensitivity_rejects_marked_films_and_specificity():
    labels = np.array([1, 1, 1, 1, 0, 0])
    clean = np.array([0.9, 0.2, 0.1, 0.3, 0.1, 0.2])      # sensitivity 0.25, specificity 1
    marked = np.array([0.9, 0.9, 0.9, 0.9, 0.1, 0.2])     # sensitivity 1
    assert nb05._clean_sensitivity(0.25, labels, clean, marked) is None
    assert "MARKED" in nb05._clean_sensitivity(1.0, labels, clean, marked)
    assert "specificity" in nb05._clean_sensitivity(1.0, labels, clean, np.array([0.1] * 6))
    assert "dict" in nb05._clean_sensitivity({"sensitivity": 0.25}, labels, clean, marked)


@pytest.fixture
def exports(tmp_path):
    """A small model exported as notebook 09 does: float32 in pneumonia_cnn, float16 in pneumonia_cnn_f16."""
    from radkit import deploy, models

    model = models.small_cnn((16, 16, 1))
    exported = deploy.export_tfjs(model, tmp_path / "pneumonia_cnn", label_names=["normal", "pneumonia"])
    small = deploy.export_tfjs(model, tmp_path / "pneumonia_cnn_f16", label_names=["normal", "pneumonia"],
                               float16=True)
    return model, exported, small


# Catches: q1 of 09 computing the expected ratio from folders the learner's cell can overwrite, which accepted
# a float16 export written over the float32 one (ratio 1 = a model compared with itself); and leaving the
# float32 export destroyed afterwards.
def test_nb09_float16_over_float32_is_rejected_and_repaired(exports):
    from radkit import deploy

    model, exported, small = exports
    ratio = deploy.folder_size(small) / deploy.folder_size(exported)
    assert nb09._float16_export(small, ratio, exported, model) is None
    assert "upside down" in nb09._float16_export(small, 1 / ratio, exported, model)
    overwritten = deploy.export_tfjs(model, exported, label_names=["normal", "pneumonia"], float16=True)
    problem = nb09._float16_export(overwritten, 1.0, exported, model)
    assert problem and "replaced" in problem
    assert json.loads((exported / "radkit.json").read_text())["weights"] == "float32", "float32 export put back"
    assert nb09._float16_export(small, deploy.folder_size(small) / deploy.folder_size(exported), exported, model) is None


# Catches: q3 of 09 accepting the app's own requests, or a count, for the outside ones.
def test_nb09_outside_requests():
    origin = "http://127.0.0.1:8000"
    requests = [origin + "/", origin + "/app.js", "https://cdn.example.com/tf.js"]
    assert nb09._outside_requests(["https://cdn.example.com/tf.js"], requests, origin) is None
    assert "do NOT start" in nb09._outside_requests([origin + "/", origin + "/app.js"], requests, origin)
    assert "list" in nb09._outside_requests(1, requests, origin)
