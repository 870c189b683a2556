"""Exercises for notebook 00_start_here."""

from __future__ import annotations

import numpy as np

from radkit.exercises import Exercise, close_to


def _pixels(n_pixels, rows=2048, columns=2500):
    return close_to(n_pixels, rows * columns, what="The number of pixels")


def _brightest(brightest, image):
    if np.ndim(brightest) != 0:
        return "Give a single number, not a whole picture: use .max() on the image."
    return close_to(brightest, np.max(image), what="The brightest value")


def _pneumonia_count(count, labels):
    return close_to(count, int(np.sum(np.asarray(labels) == 1)), what="The number of pneumonia films")


q1 = Exercise(
    "q1", _pixels,
    hint="A detector with `rows` rows and `columns` columns has rows * columns pixels. In Python, * multiplies.",
    solution="n_pixels = rows * columns",
)
q2 = Exercise(
    "q2", _brightest,
    hint="Every NumPy picture has a .max() method: tiny.max() gives its largest number.",
    solution="brightest = tiny.max()",
)
q3 = Exercise(
    "q3", _pneumonia_count,
    hint="labels == 1 gives True for every pneumonia film; np.sum counts the Trues.",
    solution="train_images, train_labels = data.train\nn_pneumonia = np.sum(train_labels == 1)",
)
