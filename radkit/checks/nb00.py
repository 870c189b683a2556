"""Exercises for notebook 00_start_here."""

from __future__ import annotations

import numpy as np

from radkit.exercises import Exercise, diagnose_number

# The notebook's own numbers, kept here too so that a changed cell cannot change the expected answer.
ROWS, COLUMNS = 2048, 2500
TINY = np.array([[10, 10, 10, 10], [10, 200, 220, 10], [10, 210, 255, 10], [10, 10, 10, 10]])


def _pixels(n_pixels):
    return diagnose_number(n_pixels, ROWS * COLUMNS, "n_pixels", 0.5,
                           mix_ups={"rows + columns (the sides added, not multiplied)": ROWS + COLUMNS,
                                    "one side only": ROWS})


def _brightest(brightest):
    return diagnose_number(brightest, TINY.max(), "brightest", 1e-9,
                           mix_ups={"the average of all pixels (.mean())": TINY.mean(),
                                    "the darkest pixel (.min())": TINY.min()})


def _pneumonia_count(n_pneumonia, data):
    labels = np.asarray(data.train[1])
    return diagnose_number(n_pneumonia, np.sum(labels == 1), "n_pneumonia", 0.5,
                           mix_ups={"the number of NORMAL films (label 0)": np.sum(labels == 0),
                                    "the number of all films": len(labels),
                                    "the FRACTION of pneumonia films; count them with np.sum": np.mean(labels == 1)})


q1 = Exercise(
    "q1", _pixels,
    hint="A detector with `rows` rows and `columns` columns has rows * columns pixels. In Python, * multiplies.",
    solution="n_pixels = rows * columns",
    wrong=("n_pixels = rows + columns", "n_pixels = rows"),
)
q2 = Exercise(
    "q2", _brightest,
    hint="Every NumPy picture has a .max() method: tiny.max() gives its largest number.",
    solution="brightest = tiny.max()",
    wrong=("brightest = tiny.mean()", "brightest = tiny", "brightest = tiny.max() > 200"),
)
q3 = Exercise(
    "q3", _pneumonia_count,
    hint="train_labels == 1 gives True for every pneumonia film; np.sum(...) counts the Trues.",
    solution="n_pneumonia = np.sum(train_labels == 1)",
    wrong=("n_pneumonia = np.sum(train_labels == 0)", "n_pneumonia = train_labels == 1",
           "n_pneumonia = np.mean(train_labels == 1)"),
)
