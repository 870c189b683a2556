"""Exercises for notebook 05_explainability."""

from __future__ import annotations

import numbers

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
    if not isinstance(score, numbers.Number):
        return f"score should be one number; you gave a {type(score).__name__}."
    if np.isclose(score, 1.0):
        return "a similarity of 1 means you compared a set of heatmaps with itself: compare maps with random_maps."
    return close_to(score, explain.similarity(maps, random_maps), 1e-6, "the similarity")


def _clean_sensitivity(sensitivity, labels, probabilities, marked_probabilities):
    if isinstance(sensitivity, dict):
        return "that is the whole dict of results; take its 'sensitivity' with [\"sensitivity\"]."
    if not isinstance(sensitivity, numbers.Number):
        return f"clean_sensitivity should be one number; you gave a {type(sensitivity).__name__}."
    clean = evaluate.clinical_metrics(labels, probabilities, 0.5)
    marked = evaluate.clinical_metrics(labels, marked_probabilities, 0.5)
    if np.isclose(sensitivity, clean["sensitivity"]):
        return None
    if np.isclose(sensitivity, marked["sensitivity"]):
        return "that is the sensitivity on the MARKED films (marked_probs); the question is about clean_probs."
    if np.isclose(sensitivity, clean["specificity"]):
        return "that is the specificity; sensitivity is about the truly sick films."
    if np.isclose(sensitivity, 100 * clean["sensitivity"]):
        return "that is a percent; give a fraction between 0 and 1."
    return "that is not the sensitivity of clean_probs at threshold 0.5."


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
           "clean_sensitivity = evaluate.clinical_metrics(test_labels, clean_probs)"),
)
