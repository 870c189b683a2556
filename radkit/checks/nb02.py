"""Exercises for notebook 02_first_classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radkit.exercises import Exercise, choice_problem, diagnose_numbers, number_problem, set_problem

# The notebook's patient lists, kept here too so that a changed cell cannot change the expected answer.
TRAIN_PATIENTS = ["P01", "P02", "P02", "P03", "P04", "P05", "P05", "P06"]
TEST_PATIENTS = ["P07", "P05", "P08", "P09", "P02"]
WHY_NOT = {
    "A": "A small rotation happens whenever a patient stands a little askew: it is safe.",
    "B": "Exposure varies from film to film: 10 % brighter is safe.",
    "D": "Patients stand closer to or further from the detector: a 10 % zoom is safe.",
}


def _leaked(leaked):
    return set_problem(leaked, set(TRAIN_PATIENTS) & set(TEST_PATIENTS), "leaked")


def _unsafe(unsafe):
    problem = choice_problem(unsafe, "ABCD", "unsafe")
    if problem:
        return problem
    return WHY_NOT.get(unsafe.strip().upper())


def _weights(weight_normal, weight_pneumonia, data):
    labels = np.asarray(data.train[1])
    n, n_normal, n_pneumonia = len(labels), int(np.sum(labels == 0)), int(np.sum(labels == 1))
    return diagnose_numbers({"weight_normal": weight_normal, "weight_pneumonia": weight_pneumonia},
                            {"weight_normal": n / (2 * n_normal), "weight_pneumonia": n / (2 * n_pneumonia)},
                            tolerance=1e-3)


def _reloaded(path, reloaded, model):
    from radkit import models

    expected = models.saved_classifier_path()
    try:
        same_place = Path(path).expanduser().resolve() == expected.resolve()
    except TypeError:
        return f"path should be what save_model returns (a file path); it is {type(path).__name__}."
    if not same_place:
        return (f"the model was saved as {Path(path).name}, not in the place later notebooks look for it: "
                'use models_folder / "first_classifier.keras".')
    if reloaded is model:
        return "reloaded is the very same model in memory: load it from the file with radkit.models.load_model."
    if not hasattr(reloaded, "predict"):
        return "reloaded should be a model, what radkit.models.load_model(path) returns."
    x = np.random.default_rng(0).random((8, *model.input_shape[1:]), dtype=np.float32)
    from_file = models.load_model(expected)
    if not np.allclose(from_file.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5):
        return "the file does not hold the trained `model`: save `model` itself."
    if not np.allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5):
        return "reloaded predicts differently from the trained model: load it from the file you saved."
    return None


OURS = (16, 32, 64, 128)     # the detectors per convolution of notebook 02's small_cnn
WIDER = (32, 32, 64, 128)    # Exercise 5: the first convolution widened to 32


def _weights_of(filters, trainable_only: bool = False) -> int:
    """The number of weights of notebook 02's network with these detectors per convolution (any picture size)."""
    from radkit import models

    return models.count_params(models.small_cnn((28, 28, 1), filters=filters), trainable_only=trainable_only)


def _wider(wider_weights):
    if hasattr(wider_weights, "count_params"):
        return ("wider_weights is a model; it should be its number of weights: "
                "radkit.models.count_params(wider).")
    problem = number_problem(wider_weights, "wider_weights")
    if problem:
        return problem
    given = float(np.asarray(wider_weights, dtype=float).reshape(-1)[0])
    if given == _weights_of(WIDER):
        return None
    gave = f"For wider_weights you gave {given:,.0f}"
    mix_ups = {
        _weights_of(OURS): "the number of weights of the original network, not the wider one (did you count `model`?)",
        _weights_of(WIDER, trainable_only=True): "the number of weights training changes; count them all (batch "
        "normalisation also keeps two running averages per detector): radkit.models.count_params(wider)",
        _weights_of((16, 32, 64, 256)): "the count with the LAST convolution widened (to 256); widen the FIRST "
        "one, 16 to 32",
        _weights_of((32, 64, 128, 256)): "the count with every convolution doubled; change only the first, 16 to 32",
    }
    if given in mix_ups:
        return f"{gave}, which is {mix_ups[given]}."
    return (f"{gave}, which is not the count of our network with 32 detectors in its first convolution. "
            "Change only the 16 to 32, keep everything else, and count with radkit.models.count_params(wider).")


q1 = Exercise(
    "q1", _leaked,
    hint="Make a set of each list with set(...); the & sign keeps what is in both sets.",
    solution="leaked = set(train_patients) & set(test_patients)",
    wrong=("leaked = set(train_patients) | set(test_patients)",
           "leaked = list(set(train_patients) & set(test_patients))",
           "leaked = set(train_patients) - set(test_patients)"),
)
q2 = Exercise(
    "q2", _unsafe,
    hint="Which change turns the picture into one of a different anatomy, with the heart on the other side? "
         'Write the one letter in quotes: unsafe = "A".',
    solution='unsafe = "C"  # a left-right flip: it makes dextrocardia, and moves the side marker',
    wrong=('unsafe = ["C"]', 'unsafe = "C, D"', 'unsafe = "D"'),
)
q3 = Exercise(
    "q3", _weights,
    hint="n is the number of training films: len(train_labels). np.sum(train_labels == 0) counts the normal "
         "films. Each weight is n / (2 * the number of films with that label).",
    solution="n = len(train_labels)\n"
             "weight_normal = n / (2 * np.sum(train_labels == 0))\n"
             "weight_pneumonia = n / (2 * np.sum(train_labels == 1))",
    wrong=("n = len(train_labels)\n"
           "weight_normal = n / (2 * np.sum(train_labels == 1))\n"
           "weight_pneumonia = n / (2 * np.sum(train_labels == 0))",
           "n = len(train_labels)\n"
           "weight_normal = (2 * np.sum(train_labels == 0)) / n\n"
           "weight_pneumonia = (2 * np.sum(train_labels == 1)) / n",
           "n = len(train_labels)\n"
           "weight_normal = n / np.sum(train_labels == 0)\n"
           "weight_pneumonia = n / np.sum(train_labels == 1)"),
)
q4 = Exercise(
    "q4", _reloaded,
    hint="radkit.models.save_model(model, path) writes the file and returns its path; "
         'radkit.models.load_model(path) reads it back. The path is models_folder / "first_classifier.keras".',
    solution='path = radkit.models.save_model(model, models_folder / "first_classifier.keras")\n'
             "reloaded = radkit.models.load_model(path)",
    wrong=('path = radkit.models.save_model(model, models_folder / "first_classifier.keras")\nreloaded = model',
           'path = radkit.models.save_model(model, models_folder / "my_model.keras")\n'
           "reloaded = radkit.models.load_model(path)"),
)
q5 = Exercise(
    "q5", _wider,
    hint="Only the first convolution changes, from 16 to 32 detectors: "
         "radkit.models.small_cnn(input_shape=(SIZE, SIZE, 1), filters=(32, 32, 64, 128)). "
         "Then count with radkit.models.count_params(wider).",
    solution="wider = radkit.models.small_cnn(input_shape=(SIZE, SIZE, 1), filters=(32, 32, 64, 128))\n"
             "wider_weights = radkit.models.count_params(wider)",
    wrong=("wider = radkit.models.small_cnn(input_shape=(SIZE, SIZE, 1), filters=(32, 32, 64, 128))\n"
           "wider_weights = radkit.models.count_params(model)",
           "wider = radkit.models.small_cnn(input_shape=(SIZE, SIZE, 1), filters=(16, 32, 64, 256))\n"
           "wider_weights = radkit.models.count_params(wider)",
           "wider = radkit.models.small_cnn(input_shape=(SIZE, SIZE, 1), filters=(32, 32, 64, 128))\n"
           "wider_weights = radkit.models.count_params(wider, trainable_only=True)",
           "wider = radkit.models.small_cnn(input_shape=(SIZE, SIZE, 1), filters=(32, 32, 64, 128))\n"
           "wider_weights = wider"),
)
