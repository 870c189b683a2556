"""Exercises for notebook 04_transfer_learning."""

from __future__ import annotations

from radkit import models
from radkit.exercises import Exercise, close_to


def _trainable(n_trainable, model):
    return close_to(n_trainable, models.count_params(model, trainable_only=True), what="n_trainable")


def _fine_tune(model):
    import keras

    base = models.base_layers(model)
    if models.is_pretrained(model) and any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
                                           for layer in base):
        return "A batch normalisation layer is learning; use radkit.models.set_trainable, which keeps them frozen."
    learning = [layer.trainable for layer in base
                if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    if not any(learning):
        return "No layer of the base can learn yet: use base_trainable=True."
    if all(learning):
        return "The whole base learns: give fine_tune_from so that only the last blocks learn."
    return None


def _best(best, results):
    expected = max(results, key=lambda name: results[name]["AUC"])
    return None if best == expected else f"{best!r} does not have the highest test AUC in results."


q1 = Exercise(
    "q1", _trainable,
    hint="radkit.models.count_params(model, trainable_only=True) counts only the weights training may change.",
    solution="n_trainable = radkit.models.count_params(model, trainable_only=True)",
)
q2 = Exercise(
    "q2", _fine_tune,
    hint='radkit.models.set_trainable(model, True, fine_tune_from="block_13_expand") unfreezes the base '
         "from that layer on, and returns the model.",
    solution='model = radkit.models.set_trainable(model, True, fine_tune_from="block_13_expand")',
)
q3 = Exercise(
    "q3", _best,
    hint='max(results, key=lambda name: results[name]["AUC"]) gives the name with the largest AUC.',
    solution='best = max(results, key=lambda name: results[name]["AUC"])',
)
