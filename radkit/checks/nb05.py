"""Exercises for notebook 05_explainability."""

from __future__ import annotations

import numpy as np

from radkit import evaluate, explain
from radkit.exercises import Exercise, close_to, diagnose_number


def _earlier_layer(maps, model, images):
    maps = np.asarray(maps)
    if maps.shape != (len(images), *np.shape(images)[1:3]):
        return f"maps_conv2 should hold one heatmap per film, shape {(len(images), *np.shape(images)[1:3])}."
    if np.allclose(maps, explain.gradcam(model, images)):
        return "these are the heatmaps of the last convolution; ask for layer_name='conv2'."
    return close_to(maps, explain.gradcam(model, images, layer_name="conv2"), 1e-4, "maps_conv2")


def _similarity(score, maps, random_maps):
    return diagnose_number(score, explain.similarity(maps, random_maps), "score", 1e-6,
                           mix_ups={"the similarity of maps with themselves": explain.similarity(maps, maps)})


def _clean_sensitivity(sensitivity, labels, probabilities, marked_probabilities):
    clean = evaluate.clinical_metrics(labels, probabilities, 0.5)
    marked = evaluate.clinical_metrics(labels, marked_probabilities, 0.5)
    return diagnose_number(sensitivity, clean["sensitivity"], "clean_sensitivity", 1e-6, fraction=True,
                           mix_ups={"the sensitivity on the MARKED films (marked_probs)": marked["sensitivity"],
                                    "the specificity on the clean films": clean["specificity"]})


q1 = Exercise(
    "q1", _earlier_layer,
    hint="explain.gradcam(model, films, layer_name='conv2'): the same call with the name of an earlier layer.",
    solution='maps_conv2 = explain.gradcam(model, films, layer_name="conv2")',
    wrong=("maps_conv2 = explain.gradcam(model, films)",
           'maps_conv2 = explain.gradcam(model, films, layer_name="conv1")'),
)
q2 = Exercise(
    "q2", _similarity,
    hint="explain.similarity(first_maps, second_maps) compares two sets of heatmaps, film by film.",
    solution="score = explain.similarity(maps, random_maps)",
    wrong=("score = explain.similarity(maps, maps)",
           "score = explain.similarity(maps, maps_tape)"),
)
q3 = Exercise(
    "q3", _clean_sensitivity,
    hint="evaluate.clinical_metrics(test_labels, clean_probs) returns a dict; its 'sensitivity' is the answer.",
    solution='clean_sensitivity = evaluate.clinical_metrics(test_labels, clean_probs)["sensitivity"]',
    wrong=('clean_sensitivity = evaluate.clinical_metrics(test_labels, marked_probs)["sensitivity"]',
           'clean_sensitivity = evaluate.clinical_metrics(test_labels, clean_probs)["specificity"]',
           "clean_sensitivity = evaluate.clinical_metrics(test_labels, clean_probs)",
           'clean_sensitivity = 100 * evaluate.clinical_metrics(test_labels, clean_probs)["sensitivity"]'),
)
