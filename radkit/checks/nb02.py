"""Exercises for notebook 02_first_classifier."""

from __future__ import annotations

import numpy as np

from radkit.exercises import Exercise, close_to


def _leaked(leaked, train_patients, test_patients):
    expected = set(train_patients) & set(test_patients)
    try:
        given = set(leaked)
    except TypeError:
        return "Give a set of patient IDs (the result of set(...) & set(...))."
    if given != expected:
        return f"That is not the set of patients found in both lists (you gave {len(given)} IDs)."
    return None


def _weights(weight_normal, weight_pneumonia, labels):
    labels = np.asarray(labels)
    n, n_normal, n_pneumonia = len(labels), int(np.sum(labels == 0)), int(np.sum(labels == 1))
    return (close_to(weight_normal, n / (2 * n_normal), 1e-3, what="weight_normal")
            or close_to(weight_pneumonia, n / (2 * n_pneumonia), 1e-3, what="weight_pneumonia"))


def _unsafe(unsafe):
    if str(unsafe).strip().upper() != "C":
        return "That change can happen between two real films of the same patient, so it is safe."
    return None


def _reloaded(reloaded, model, images):
    if reloaded is model:
        return "reloaded is the very same model in memory: load it from the file with radkit.models.load_model."
    same = np.allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
    return None if same else "The reloaded model predicts differently: did you save the trained model?"


q1 = Exercise(
    "q1", _leaked,
    hint="Make a set of each list with set(...); the & sign keeps what is in both sets.",
    solution="leaked = set(train_patients) & set(test_patients)",
)
q2 = Exercise(
    "q2", _weights,
    hint="Count each label with np.sum(train_labels == 0) and np.sum(train_labels == 1). "
         "Each weight is (number of films) / (2 x number of films with that label).",
    solution="n = len(train_labels)\n"
             "weight_normal = n / (2 * np.sum(train_labels == 0))\n"
             "weight_pneumonia = n / (2 * np.sum(train_labels == 1))",
)
q3 = Exercise(
    "q3", _unsafe,
    hint="Which change turns the picture into one of a different anatomy, with the heart on the other side?",
    solution='unsafe = "C"  # a left-right flip: it makes dextrocardia, and moves the side marker',
)
q4 = Exercise(
    "q4", _reloaded,
    hint="radkit.models.save_model(model, path) writes the file and returns its path; "
         "radkit.models.load_model(path) reads it back.",
    solution='path = radkit.models.save_model(model, models_folder / "first_classifier.keras")\n'
             "reloaded = radkit.models.load_model(path)",
)
