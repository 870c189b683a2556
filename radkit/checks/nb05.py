"""Exercises for notebook 05_explainability."""

from __future__ import annotations

import numpy as np

from radkit import evaluate, explain
from radkit.exercises import Exercise, close_to


def _earlier_layer(maps, model, images):
    maps = np.asarray(maps)
    if maps.shape != (len(images), *np.shape(images)[1:3]):
        return f"maps_conv2 should hold one heatmap per film, shape {(len(images), *np.shape(images)[1:3])}."
    if np.allclose(maps, explain.gradcam(model, images)):
        return "these are the heatmaps of the last convolution; ask for layer_name='conv2'."
    return close_to(maps, explain.gradcam(model, images, layer_name="conv2"), 1e-4, "maps_conv2")


def _similarity(score, maps, random_maps):
    return close_to(score, explain.similarity(maps, random_maps), 1e-6, "the similarity")


def _clean_sensitivity(sensitivity, labels, probabilities):
    m = evaluate.clinical_metrics(labels, probabilities, 0.5)
    if np.isclose(sensitivity, m["specificity"]):
        return "that is the specificity; sensitivity is about the truly sick films."
    return close_to(sensitivity, m["sensitivity"], 1e-6, "the sensitivity on clean films")


q1 = Exercise(
    "q1", _earlier_layer,
    hint="explain.gradcam(model, films, layer_name='conv2'): the same call with the name of an earlier layer.",
    solution='maps_conv2 = explain.gradcam(model, films, layer_name="conv2")',
)
q2 = Exercise(
    "q2", _similarity,
    hint="explain.similarity(first_maps, second_maps) compares two sets of heatmaps, film by film.",
    solution="score = explain.similarity(maps, random_maps)",
)
q3 = Exercise(
    "q3", _clean_sensitivity,
    hint="evaluate.clinical_metrics(test_labels, clean_probs) returns a dict; its 'sensitivity' is the answer.",
    solution='clean_sensitivity = evaluate.clinical_metrics(test_labels, clean_probs)["sensitivity"]',
)
