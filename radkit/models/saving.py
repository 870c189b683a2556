"""Save a model to one .keras file and load it back (never over a model radkit did not save); count its
weights and list its layers. Introduced in notebook 02_first_classifier.
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


def layer_table(model) -> list:
    """One row per layer, input left out: (kind of layer, shape of what it passes on, number of weights) (notebook 02).

    Two models with the same table are built the same way, whatever their layers are called.
    """
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        rows.append((type(layer).__name__, tuple(layer.output.shape[1:]), int(layer.count_params())))
    return rows


def compiled_by_radkit(model) -> bool:
    """True when the model's loss and optimiser were chosen by ``radkit.train`` (not by your own ``model.compile``)."""
    return bool(getattr(model, "compiled", False)
                and getattr(getattr(model, "optimizer", None), "_radkit_compiled", False))


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
RADKIT_ENTRY = "radkit.json"  # inside the .keras file: what the model is for, and who compiled it (Keras ignores it)


def save_model(model, path) -> Path:
    """Save a model to one ``.keras`` file (its layers and learned weights) (notebook 02).

    The file appears whole or not at all, and an existing file is replaced only when radkit saved it:
    a model someone else made is never overwritten. It also keeps what the model is for (its task,
    ``radkit.models.task_of``), so training it again after loading picks the same loss.
    """
    import json
    import os
    import zipfile

    from radkit.models.losses import register, task_of

    from radkit.files import write_atomically

    path = _keras_path(path, must_exist=False)
    register()  # the loss is saved by its registered name, which load_model finds again
    facts = json.dumps({"task": task_of(model), "compiled_by_radkit": compiled_by_radkit(model)})

    def write(temporary):
        keras_named = f"{temporary}.keras"  # Keras insists on the .keras ending
        try:
            model.save(keras_named)
            with zipfile.ZipFile(keras_named, "a") as archive:
                archive.writestr(RADKIT_ENTRY, facts)
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
    """Load a model saved with ``save_model``; it predicts exactly as it did when saved (notebook 02).

    Works in a new Python session: radkit's own losses and layers are registered with Keras first.
    """
    import json
    import zipfile

    from radkit.models.losses import register, set_task

    path = _keras_path(path, must_exist=True)
    known = register()
    # Files saved before radkit registered its losses name them without the "radkit>" prefix.
    model = _keras().models.load_model(path, custom_objects=known)
    facts = {}
    try:
        with zipfile.ZipFile(path) as archive:
            if RADKIT_ENTRY in archive.namelist():
                facts = json.loads(archive.read(RADKIT_ENTRY))
            elif archive.comment == KERAS_MARK:  # saved by an older radkit: compiled by radkit, task not kept
                facts = {"compiled_by_radkit": True}
    except (zipfile.BadZipFile, ValueError):
        facts = {}
    if facts.get("task"):
        set_task(model, facts["task"])
    if facts.get("compiled_by_radkit") and getattr(model, "compiled", False):
        model.optimizer._radkit_compiled = True
    return model
