"""Save a model to one .keras file and load it back (never over a model radkit did not save); count its
weights. Introduced in notebook 02_first_classifier.
"""

from __future__ import annotations

from pathlib import Path

from radkit import config
from radkit.errors import RadkitError


_keras = config.import_keras  # Keras is imported on first use, quietly


def count_params(model, trainable_only: bool = False) -> int:
    """How many numbers (weights) the model has, or how many of them training may change."""
    import numpy as np

    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def _keras_path(path, must_exist: bool) -> Path:
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise RadkitError(f"{path.name} does not end in .keras.",
                          f"Use a name ending in .keras, for example {path.with_suffix('.keras').name}.")
    if must_exist and not path.is_file():
        raise RadkitError(f"There is no saved model at {config.display_path(path)}.",
                          "Check the path, or save one first with radkit.models.save_model(model, path).")
    return path


KERAS_MARK = b"RADKIT"  # the .keras file's zip comment: how radkit tells its own saved models from anyone else's


def save_model(model, path) -> Path:
    """Save a model to one ``.keras`` file (its layers and learned weights) (notebook 02).

    The file appears whole or not at all, and an existing file is replaced only when radkit saved it:
    a model someone else made is never overwritten.
    """
    import os
    import zipfile

    from radkit.files import write_atomically

    path = _keras_path(path, must_exist=False)

    def write(temporary):
        keras_named = f"{temporary}.keras"  # Keras insists on the .keras ending
        try:
            model.save(keras_named)
            with zipfile.ZipFile(keras_named, "a") as archive:
                archive.comment = KERAS_MARK
            os.replace(keras_named, temporary)
        finally:
            if os.path.exists(keras_named):
                os.remove(keras_named)

    return write_atomically(path, write, written_by_radkit=_saved_by_radkit)


def _saved_by_radkit(path: Path) -> bool:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.comment == KERAS_MARK


def load_model(path):
    """Load a model saved with ``save_model``; it predicts exactly as it did when saved (notebook 02)."""
    path = _keras_path(path, must_exist=True)
    return _keras().models.load_model(path)
