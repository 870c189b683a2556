"""Notebook 08 writes the Dice loss out in NumPy: it must stay short and equal radkit's own loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "08_segmentation.ipynb"


def _notebook_loss():
    """The ``dice_loss_by_hand`` cell of notebook 08, run on its own: (function, its source)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells
                  if c["cell_type"] == "code" and "".join(c["source"]).startswith("def dice_loss_by_hand"))
    namespace = {"np": np}
    exec(source, namespace)  # noqa: S102 - the course's own notebook cell
    return namespace["dice_loss_by_hand"], source


def _batch(rng, confidence, n=8, classes=3):
    """Labels with structures in every slice, and softmax answers that lean towards them by ``confidence``."""
    truth = np.zeros((n, 64, 64), np.int64)
    truth[:, 20:34, 18:30], truth[:, 34:44, 22:40] = 1, 2
    logits = rng.normal(size=(n, 64, 64, classes)) + confidence * np.eye(classes)[truth]
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return truth, probs.astype(np.float32)


# Catches the notebook's loss drifting from radkit's (a missing +1, a background term, no clip of log(0))
# and a "short" loss that grew past the eight lines the lesson promises.
def test_notebook_dice_loss_equals_radkits():
    import keras

    from radkit import train

    by_hand, source = _notebook_loss()
    assert len(source.strip().splitlines()) <= 8
    rng = np.random.default_rng(0)
    keras.backend.set_floatx("float64")  # as the notebook checks: 64-bit numbers, so only the formula can differ
    try:
        for confidence in (0.0, 2.0, 6.0, 25.0) * 2:  # untrained to trained; 25: probabilities below 1e-7 clipped
            truth, probs = _batch(rng, confidence)
            ours = by_hand(truth, probs.astype(np.float64))
            radkits = float(train.dice_loss(truth[..., None], probs.astype(np.float64)))
            assert abs(ours - radkits) < 1e-6, (confidence, ours, radkits)
        empty = np.zeros_like(truth)  # no structure anywhere: Dice says "agreement", only cross-entropy is left
        assert abs(by_hand(empty, probs.astype(np.float64))
                   - float(train.dice_loss(empty[..., None], probs.astype(np.float64)))) < 1e-6
    finally:
        keras.backend.set_floatx("float32")
