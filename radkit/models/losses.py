"""The losses and scores the course's models learn with, and the tasks a model can be built for.

Introduced in notebook 02_first_classifier (the task a model is for); used by ``radkit.train`` and by
``radkit.models.load_model``, which registers them with Keras so that a saved model loads anywhere.

- ``dice_loss`` / ``dice_metric``: outlines (notebook 08);
- ``box_loss`` / ``iou``: one box per picture (notebook 07's heart);
- ``centre_loss``: the centre detector's maps (notebook 07's blood cells).
"""

from __future__ import annotations

from radkit import config
from radkit.errors import RadkitError

# What a model can be built for, and what each means for training.
TASKS = {
    "binary": "one yes/no answer per picture (a probability)",
    "multiclass": "one of several labels per picture",
    "multilabel": "several independent yes/no findings per picture",
    "segmentation": "an outline: one answer per pixel",
    "boxes": "one box per picture",
    "centres": "the centres and sizes of many objects per picture",
}


def set_task(model, task: str):
    """Record what ``model`` is for (one of ``TASKS``), so ``radkit.train.fit`` picks the right loss (notebook 02).

    radkit's own builders record it; call this for a model you wrote yourself. It is saved with the model.
    """
    if task not in TASKS:
        raise RadkitError(f"task={task!r} is not one radkit knows.", f"Use one of: {', '.join(TASKS)}.")
    model._radkit_task = task
    return model


def task_of(model) -> str | None:
    """What ``model`` was built for (see ``TASKS``), or None for a model radkit did not build or save."""
    return getattr(model, "_radkit_task", None)


def classifier_task(n_outputs: int, multi_label: bool) -> str:
    """The task of a classifier with ``n_outputs`` answers: yes/no, one of several, or several findings."""
    if n_outputs == 1:
        return "binary"
    return "multilabel" if multi_label else "multiclass"


# ---------------------------------------------------------------- outlines (notebook 08)

def _dice_parts(y_true, y_pred, hard: bool):
    """Overlap and size of each structure (not background) over the batch: what Dice is made of."""
    import keras

    ops, n = keras.ops, y_pred.shape[-1]
    if n == 1:
        truth, pred = ops.cast(y_true, "float32"), ops.cast(y_pred > 0.5, "float32") if hard else y_pred
    else:
        truth = ops.one_hot(ops.cast(y_true[..., 0], "int32"), n)[..., 1:]
        pred = (ops.one_hot(ops.argmax(y_pred, axis=-1), n) if hard else y_pred)[..., 1:]
    return ops.sum(truth * pred, axis=(0, 1, 2)), ops.sum(truth + pred, axis=(0, 1, 2))


def dice_loss(y_true, y_pred):
    """Dice + cross-entropy, the loss for outlines (notebook 08).

    Cross-entropy alone is dominated by the background (a hippocampus is about 1 % of
    a slice), so "all background" already scores well. The Dice part, 1 - 2 x overlap /
    (size of truth + size of outline) per structure, only rewards finding the structure.
    """
    import keras

    ops = keras.ops
    overlap, sizes = _dice_parts(y_true, y_pred, hard=False)
    dice = ops.mean((2 * overlap + 1.0) / (sizes + 1.0))  # + 1: a structure absent from both counts as agreement
    if y_pred.shape[-1] == 1:
        cross_entropy = keras.losses.binary_crossentropy(ops.cast(y_true, "float32"), y_pred)
    else:
        cross_entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
    return ops.mean(cross_entropy) + 1.0 - dice


def dice_metric(y_true, y_pred):
    """Mean Dice over the structures in a batch, from the outlines the model would draw (notebook 08)."""
    import keras

    overlap, sizes = _dice_parts(y_true, y_pred, hard=True)
    return keras.ops.mean((2 * overlap + 1e-6) / (sizes + 1e-6))


# ---------------------------------------------------------------- one box per picture (notebook 07)

def iou(y_true, y_pred):
    """How much a drawn box and the true box overlap: shared area / combined area, 0..1 (corners as fractions)."""
    import keras

    ops = keras.ops
    low, high = ops.maximum(y_true[:, :2], y_pred[:, :2]), ops.minimum(y_true[:, 2:], y_pred[:, 2:])
    overlap = ops.prod(ops.maximum(high - low, 0.0), axis=-1)
    areas = [ops.prod(ops.maximum(b[:, 2:] - b[:, :2], 0.0), axis=-1) for b in (y_true, y_pred)]
    return overlap / ops.maximum(areas[0] + areas[1] - overlap, 1e-6)


def box_loss(y_true, y_pred):
    """The box regressor's loss: how far the corners are (mean absolute distance) plus 1 - IoU."""
    import keras

    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1) + (1.0 - iou(y_true, y_pred))


# ---------------------------------------------------------------- many objects per picture (notebook 07)

CENTRE_EXTRA = 4  # after the class maps: width, height, and where in its cell the centre is (x, y)


def centre_loss(y_true, y_pred):
    """The centre detector's loss: focal loss on the centre maps (CenterNet's), plus size and offset errors at centres.

    The number of classes is read from the maps: all channels but the last four (size and offset).
    """
    import keras

    ops = keras.ops
    n_classes = y_pred.shape[-1] - CENTRE_EXTRA
    heat, pred = y_true[..., :n_classes], ops.clip(y_pred[..., :n_classes], 1e-4, 1 - 1e-4)
    is_centre = ops.cast(heat > 0.999, "float32")
    n = ops.maximum(ops.sum(is_centre), 1.0)
    positive = -ops.log(pred) * (1 - pred) ** 2 * is_centre
    negative = -ops.log(1 - pred) * pred**2 * (1 - heat) ** 4 * (1 - is_centre)
    at = ops.max(is_centre, axis=-1, keepdims=True)
    # Sizes are judged relative to the object (log ratio): 2 pixels off matter for a platelet, not for a white cell.
    true_size, found_size = [ops.log(ops.maximum(t[..., n_classes:n_classes + 2], 1e-3)) for t in (y_true, y_pred)]
    size = ops.sum(ops.abs(true_size - found_size) * at)
    offset = ops.sum(ops.abs(y_true[..., n_classes + 2:] - y_pred[..., n_classes + 2:]) * at)
    return (ops.sum(positive) + ops.sum(negative) + size + offset) / n


# ---------------------------------------------------------------- telling Keras about them

_REGISTERED = {}


def register() -> dict:
    """Register radkit's losses, scores and layers with Keras (package "radkit"), once; returns them by name.

    Keras saves a model's loss by name; registered, the name is found again when the model is loaded,
    in any Python session that has radkit installed.
    """
    if not _REGISTERED:
        keras = config.import_keras()
        from radkit.models.detection import _edge_layer

        for function in (dice_loss, dice_metric, iou, box_loss, centre_loss):
            keras.saving.register_keras_serializable(package="radkit")(function)
            _REGISTERED[function.__name__] = function
        _REGISTERED["BoxEdges"] = _edge_layer()  # registered where it is defined
    return dict(_REGISTERED)
