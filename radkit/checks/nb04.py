"""Exercises for notebook 04_transfer_learning."""

from __future__ import annotations

import numbers

from radkit import models
from radkit.exercises import Exercise, diagnose_number, short


def _trainable(n_trainable, model):
    everything = "the count of ALL weights (trainable_only=True counts only those training may change)"
    return diagnose_number(n_trainable, models.count_params(model, trainable_only=True), "n_trainable", 0.5,
                           mix_ups={everything: models.count_params(model)})


def _first_learning_layer(model):
    """The name of the first layer of the base that learns (BatchNorm aside), or None."""
    import keras

    for layer in models.base_layers(model):
        if layer.weights and layer.trainable and not isinstance(layer, keras.layers.BatchNormalization):
            return layer.name
    return None


def _fine_tune(tuned):
    import keras

    if not isinstance(tuned, keras.Model):
        return f"tuned should be the model that set_trainable returns; it is {short(tuned)}."
    base = models.base_layers(tuned)
    if models.is_pretrained(tuned) and any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
                                           for layer in base):
        return "A batch normalisation layer is learning; leave freeze_batchnorm out, so set_trainable keeps them frozen."
    learning = [layer.trainable for layer in base
                if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    if not any(learning):
        return "No layer of the base can learn yet: the second argument should be True."
    if all(learning):
        return "The whole base learns: give fine_tune_from=\"block_13_expand\" so that only the last blocks learn."
    first = _first_learning_layer(tuned)
    if first != "block_13_expand":
        return f"The base learns from the layer {first!r} on; the exercise asks for \"block_13_expand\"."
    return None


def _best(best, results):
    def auc(name):
        return results[name]["AUC"]

    if isinstance(best, numbers.Number):
        return "best should be the model's name (a key of results), not its AUC: max(results, key=auc_of)."
    if isinstance(best, dict):
        return "best should be the model's name (a key of results), not its scores."
    if not isinstance(best, str):  # before `in results`: a list there is a TypeError, not an answer
        return f"For best you gave {short(best)}; one model's name, in quotes (a key of results), was expected."
    if best not in results:
        return f"For best you gave {short(best)}, which is not one of the names in results."
    if best == max(results, key=auc):
        return None
    alphabetical, lowest = best == max(results), best == min(results, key=auc)
    if alphabetical and lowest:
        return ("that is the model with the LOWEST test AUC, and also the last name alphabetically: max(results) "
                "alone compares the names, and min finds the smallest. Use max(results, key=auc_of).")
    if alphabetical:
        return ("max(results) compared the names alphabetically, not their AUC: tell max what to compare "
                "with key=auc_of.")
    if lowest:
        return "that is the model with the LOWEST test AUC: max, not min."
    return f"For best you gave {short(best)}, which does not have the highest test AUC in results."


def _best_error(error):
    """What stopped `best = max(results, key=...)` before the check: a key that gives dicts, not numbers."""
    if isinstance(error, TypeError) and "'dict' and 'dict'" in str(error):
        return ("max compared each model's whole dict of scores (that is what results.get gives), and Python "
                "cannot say which of two dicts is larger. Give key=auc_of, which turns each name into one number.")
    return None


q1 = Exercise(
    "q1", _trainable,
    hint="radkit.models.count_params(model, trainable_only=True) counts only the weights training may change.",
    solution="n_trainable = radkit.models.count_params(model, trainable_only=True)",
    wrong=("n_trainable = radkit.models.count_params(model)",
           "n_trainable = 1280"),
)
q2 = Exercise(
    "q2", _fine_tune,
    hint='radkit.models.set_trainable(model, True, fine_tune_from="block_13_expand") unfreezes the base '
         "from that layer on, and returns the model.",
    solution='tuned = radkit.models.set_trainable(model, True, fine_tune_from="block_13_expand")',
    wrong=("tuned = radkit.models.set_trainable(model, True)",
           'tuned = radkit.models.set_trainable(model, False, fine_tune_from="block_13_expand")',
           'tuned = radkit.models.set_trainable(model, True, fine_tune_from="block_16_expand")',
           'tuned = radkit.models.set_trainable(model, True, fine_tune_from="block_13_expand", freeze_batchnorm=False)'),
)
q3 = Exercise(
    "q3", _best,
    hint="max(results, key=auc_of) gives the name whose auc_of(name) is largest.",
    solution="best = max(results, key=auc_of)",
    wrong=("best = max(results)",
           "best = min(results, key=auc_of)",
           "best = max(auc_of(name) for name in results)"),
    on_error=_best_error,
)
