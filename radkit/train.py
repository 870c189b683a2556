"""Training a model, repeatably: augmentation, class weights, early stopping, curves.

Introduced in notebook 02_first_classifier; used again in 04 and later.

``fit(model, train, val)`` takes the pictures as ``(images, labels)`` pairs
straight from ``radkit.data`` and does what the notebooks explain:

- **seeded**: the same call gives the same numbers, on the same computer;
- **augmentation** while training (small rotations, zoom, shifts, brightness
  and contrast; never a left-right flip: on a chest X-ray the heart is on the
  left, and a flipped film would show a patient with dextrocardia);
- **class weights**: the rarer label counts more, so a model cannot score
  well by always answering the common label;
- **early stopping**: training stops when the validation AUC has not improved
  for ``patience`` epochs, and the best weights are put back. With no
  validation pictures there is nothing fair to choose by: the last epoch's
  weights are kept.
- **masks** (notebook 08): when the model answers per pixel, the labels are
  masks shaped like the pictures; the loss is Dice + cross-entropy, early
  stopping watches the validation Dice, and augmentation moves each mask with
  its picture.

It returns Keras' own ``History``; ``plot_history(history)`` draws the curves.
"""

from __future__ import annotations

import math
import time

import numpy as np

from radkit import config
from radkit.errors import RadkitError

# Changes a radiograph can plausibly show between two visits: positioning, exposure, processing.
AUGMENT = {"rotation": 8.0,      # degrees either way
           "zoom": 0.10,         # up to 10 % closer or further
           "shift": 0.05,        # up to 5 % of the picture sideways or up/down
           "brightness": 0.10,   # added to every pixel (0..1 scale), either way
           "contrast": 0.15}     # up to 15 % more or less contrast


_tf = config.import_tensorflow  # TensorFlow is imported on first use, quietly


# ---------------------------------------------------------------- augmentation

def _augment_batch(images, seed, settings: dict):
    """Randomly rotate, zoom, shift and change the brightness/contrast of a batch (a TensorFlow function).

    ``seed`` is a pair of integers: the same seed always gives the same changes.
    Rotation and zoom never mirror the picture (the transform keeps left as left).
    """
    # Not _tf(): this runs inside a traced tf.data function, and _tf() touches os.environ, which makes AutoGraph
    # print the whole environment in a warning (COURSE.md). TensorFlow is already imported when we get here.
    import tensorflow as tf

    n = tf.shape(images)[0]
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 5)

    def uniform(i, spread, shape=None):
        return tf.random.stateless_uniform(shape or [n], seeds[i], -spread, spread)

    out = images
    # With no rotation, zoom or shift (the detectors' colour step) there is nothing to resample: skipped.
    if settings["rotation"] or settings["zoom"] or settings["shift"]:
        angle = uniform(0, settings["rotation"] * math.pi / 180)
        scale = 1.0 + uniform(1, settings["zoom"])           # > 1 means closer (zoom in)
        shift = uniform(2, settings["shift"], [n, 2]) * tf.stack([width, height])
        # For each output pixel (x, y), the input pixel it is read from: rotate and scale about the centre.
        a0, a1 = tf.cos(angle) / scale, -tf.sin(angle) / scale
        b0, b1 = tf.sin(angle) / scale, tf.cos(angle) / scale
        cx, cy = (width - 1) / 2, (height - 1) / 2
        a2 = cx - a0 * cx - a1 * cy + shift[:, 0]
        b2 = cy - b0 * cx - b1 * cy + shift[:, 1]
        zeros = tf.zeros_like(a0)
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=0.0,
            interpolation="BILINEAR", fill_mode="NEAREST")
    mean = tf.reduce_mean(out, axis=[1, 2, 3], keepdims=True)
    contrast = tf.reshape(1.0 + uniform(3, settings["contrast"]), [-1, 1, 1, 1])
    brightness = tf.reshape(uniform(4, settings["brightness"]), [-1, 1, 1, 1])
    return tf.clip_by_value((out - mean) * contrast + mean + brightness, 0.0, 1.0)


def _augment_settings(augment) -> dict | None:
    if augment is False or augment is None:
        return None
    if augment is True:
        return dict(AUGMENT)
    if isinstance(augment, dict):
        unknown = set(augment) - set(AUGMENT)
        if unknown:
            raise RadkitError(f"Unknown augmentation setting(s): {', '.join(sorted(unknown))}.",
                              f"Use some of: {', '.join(AUGMENT)}.")
        return {**AUGMENT, **augment}
    raise RadkitError(f"augment={augment!r} is not understood.", "Use True, False or a dict such as {'rotation': 5}.")


def augment(images, seed: int = 0, **settings) -> np.ndarray:
    """Return randomly changed copies of pictures, as training sees them (notebook 02).

    ``images`` are model input (float 0..1, shape (N, H, W, 1)) or grey
    pictures (uint8, (N, H, W)). Settings override ``AUGMENT``, for example
    ``augment(x, rotation=20)``.
    """
    x = _as_input(images, "images")
    out = _augment_batch(_tf().constant(x), [seed, 0], _augment_settings(settings or True))
    return out.numpy()


# ---------------------------------------------------------------- checking the input

def _as_input(images, what: str, channels: bool = False, colour: bool = False) -> np.ndarray:
    """Pictures as float32 (N, H, W, 1) in 0..1, or a RadkitError saying what to do.

    ``channels=True`` (outlines, notebook 08) also accepts (N, H, W, C) stacks of neighbouring slices in 0..1;
    ``colour=True`` (blood cells, notebook 07) colour pictures (N, H, W, 3).
    """
    images = np.asarray(images)
    if colour and images.ndim == 4 and images.shape[-1] == 3:
        from radkit.data import to_model_input

        return to_model_input(images, colour=True)
    if channels and images.ndim == 4 and images.dtype != np.uint8:
        images = images.astype(np.float32)
        if images.size and (images.min() < -0.01 or images.max() > 1.01):
            raise RadkitError(f"The {what} hold numbers from {images.min():.1f} to {images.max():.1f}; "
                              "the models expect 0 to 1.", "Make the slices with radkit.volumes.to_slices().")
        return images
    if images.ndim == 4 and images.shape[-1] in (3, 4):
        raise RadkitError(
            f"The {what} are colour pictures ({images.shape[-1]} channels, shape {images.shape}); "
            "the course's models take grey pictures.",
            "Convert them to grey first: load them with radkit.data.load_image_folder(), which does it for "
            "you, or use images.mean(axis=-1) for pictures that are grey saved as colour.")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 1):
        raise RadkitError(f"The {what} have shape {images.shape}; expected (number, height, width).",
                          "Use the images from radkit.data (for example data.train[0]).")
    if images.dtype == np.uint8 or images.ndim == 3:
        from radkit.data import to_model_input

        return to_model_input(images)
    images = images.astype(np.float32)
    if images.size and (images.min() < -0.01 or images.max() > 1.01):
        raise RadkitError(f"The {what} hold numbers from {images.min():.1f} to {images.max():.1f}; "
                          "the models expect 0 to 1.", "Use radkit.data.to_model_input(images).")
    return images


def _keras_moves(settings: dict, seeds, fill_mode: str, **box_format) -> list:
    """Keras' own layers that turn, zoom and shift a picture, and its mask or boxes with it: one per move.

    A move set to 0 is left out: it would still resample every pixel for nothing (with the detectors'
    colour step, about a quarter of a smear epoch's augmentation time). ``seeds``: one per move (turn, zoom, shift).
    """
    import keras

    layers, rotation, zoom, shift = keras.layers, settings["rotation"], settings["zoom"], settings["shift"]
    steps = []
    if rotation:
        steps.append(layers.RandomRotation(rotation / 360, fill_mode=fill_mode, seed=seeds[0], **box_format))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode=fill_mode, seed=seeds[1], **box_format))
    if shift:
        steps.append(layers.RandomTranslation(shift, shift, fill_mode=fill_mode, seed=seeds[2], **box_format))
    return steps


def _mask_augmenter(settings: dict, seed: int):
    """Keras' own image layers, given a dict of pictures and ``segmentation_masks``, move both together (notebook 08).

    Masks are moved with nearest-neighbour resampling (a label stays a whole number); brightness
    and contrast change only the pictures.
    """
    import keras

    layers = _keras_moves(settings, (seed, seed + 1, seed + 2), "constant") + [
        keras.layers.RandomBrightness(settings["brightness"], value_range=(0, 1), seed=seed + 3),
        keras.layers.RandomContrast(settings["contrast"], value_range=(0, 1), seed=seed + 4)]

    def move_together(images, masks):
        batch = {"images": images, "segmentation_masks": masks}
        for layer in layers:
            batch = layer(batch, training=True)
        return batch["images"], batch["segmentation_masks"]

    return _tf().autograph.experimental.do_not_convert(move_together)  # plain Keras calls: nothing to convert


def _check_masks(masks, images: np.ndarray, what: str) -> np.ndarray:
    """Masks shaped like the pictures (N, H, W), one whole number per pixel, or a RadkitError."""
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if masks.shape != images.shape[:3]:
        raise RadkitError(f"The {what} masks have shape {masks.shape} but the pictures {images.shape[:3]}: "
                          "each picture needs a mask of the same size.",
                          "Make both with radkit.volumes.to_slices(), which keeps them together.")
    return masks


def _check_size(x: np.ndarray, model, what: str) -> None:
    expected = tuple(model.input_shape[1:3])
    if None not in expected and x.shape[1:3] != expected:
        h, w = x.shape[1:3]
        raise RadkitError(
            f"The model expects {expected[0]} x {expected[1]} pictures, but the {what} are {h} x {w}.",
            f"Resize them with radkit.data.to_model_input(images, size={expected[0]}), or build the model "
            f"for this size, e.g. input_shape=({h}, {w}, 1).")
    have, want = x.shape[-1], model.input_shape[-1]
    if want is None or have == want:
        return
    if _task(model, y=None) == "segmentation":  # stacks of neighbouring slices (notebook 08)
        raise RadkitError(f"The model reads {want} slice(s) at a time, but the {what} have {have}.",
                          "Cut the slices to match the model: volumes.to_slices(data) for a model that reads 1 "
                          "slice, volumes.to_slices(data, context=1) for one that reads 3.")
    have, want = ("colour" if n == 3 else "grey" for n in (have, want))
    raise RadkitError(f"The model reads {want} pictures, but the {what} are {have}.",
                      "Build the model for them (input_shape=pictures.shape[1:]), or load the pictures "
                      f"with colour={want == 'colour'} (blood smears: radkit.boxes.load_blood_cells).")


def _check_labels(labels, n_images: int, what: str, label_names=None) -> np.ndarray:
    labels = np.asarray(labels)
    if len(labels) != n_images:
        raise RadkitError(f"There are {n_images} {what} images but {len(labels)} labels.",
                          "Give one label per image, in the same order.")
    if labels.ndim == 1:
        values = np.unique(labels)
        if len(values) < 2:
            only = label_names[int(values[0])] if label_names and len(values) else (values[0] if len(values) else "-")
            raise RadkitError(
                f"All {len(labels)} {what} labels are the same ({only!r}): there is only one class.",
                "A model cannot learn a difference it never sees. Check that every class has pictures "
                "(for your own folder: one sub-folder per class, each with pictures).")
    return labels


# ---------------------------------------------------------------- class weights and pipelines

def class_weights(labels) -> dict:
    """Weights that make each label count equally: weight = N / (number of labels x N of that label).

    With 25 % normal and 75 % pneumonia, a normal film counts 2.0 and a
    pneumonia film 0.67, so both classes pull on the model equally.
    """
    labels = np.asarray(labels).astype(int)
    values, counts = np.unique(labels, return_counts=True)
    return {int(v): float(len(labels) / (len(values) * c)) for v, c in zip(values, counts)}


def make_dataset(images, labels, batch_size: int = 32, shuffle: bool = False, augment=False,
                 class_weight=None, seed: int = config.DEFAULT_SEED):
    """A ``tf.data`` pipeline of (pictures, labels[, weights]) batches, shuffled and augmented if asked."""
    tf = _tf()
    y = np.asarray(labels).astype(np.float32)
    masks = y.ndim >= 3  # segmentation: one label per pixel (notebook 08)
    x = _as_input(images, "images", channels=masks)
    if masks:
        y = _check_masks(y, x, "given")[..., None]
    parts = (x, y)
    if class_weight:
        parts = (x, y, np.array([class_weight.get(int(v), 1.0) for v in labels], dtype=np.float32))
    ds = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    settings = _augment_settings(augment)
    if settings and masks:
        ds = ds.map(_mask_augmenter(settings, seed))
    elif settings:
        # One seed per batch from a seeded stream that changes every epoch: repeatable, yet varied.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda batch, s: (_augment_batch(batch[0], s, settings), *batch[1:]))
    return ds.prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- boxes (notebook 07)

def _check_boxes(labels, n_images: int, what: str, label_names=None):
    """Boxes as labels: (N, 4) corners in pixels (one box per picture), or {"boxes": (N, M, 4), "labels": (N, M)}."""
    if isinstance(labels, dict):
        if set(labels) != {"boxes", "labels"} or len(labels["boxes"]) != n_images:
            raise RadkitError(f"The {what} boxes should be a dict with 'boxes' and 'labels', one row per picture.",
                              "Make it with radkit.boxes.pad(boxes_per_picture, labels_per_picture).")
        return {"boxes": np.asarray(labels["boxes"], np.float32), "labels": np.asarray(labels["labels"], np.int32)}
    boxes = np.asarray(labels, dtype=np.float32)
    if boxes.shape != (n_images, 4):
        raise RadkitError(f"There are {n_images} {what} pictures, but the boxes have shape {boxes.shape}.",
                          "Give one box per picture: an array (pictures, 4) of [x_min, y_min, x_max, y_max] in pixels.")
    if (boxes[:, 2:] <= boxes[:, :2]).any():
        raise RadkitError(f"Some {what} boxes have zero or negative size.", "Check them with radkit.boxes.check_boxes.")
    return boxes


def _box_augmenter(settings: dict, flip: bool, seed: int):
    """Keras' own preprocessing layers, told the box format, so each box moves with its picture.

    Never a left-right flip of a chest film (a flipped film shows dextrocardia);
    ``flip`` is for pictures with no left or right, such as a blood smear.
    """
    import keras

    steps = _keras_moves(settings, (seed, seed, seed), "nearest", bounding_box_format="xyxy")
    if flip:
        steps.append(keras.layers.RandomFlip("horizontal_and_vertical", bounding_box_format="xyxy", seed=seed))
    return steps


def _detection_loss(kind: str):
    """The box regressor learns corners (L1 distance plus 1 - IoU); the centre detector its maps."""
    from radkit.models import losses

    if kind == "centres":
        return losses.centre_loss, []
    return losses.box_loss, [losses.iou]


def _box_dataset(x, boxes, model, batch_size: int, shuffle: bool = False, augment=False,
                 seed: int = config.DEFAULT_SEED):
    """Batches of pictures with what a detector learns, the boxes moved with the picture when augmenting."""
    tf = _tf()
    height, width = x.shape[1:3]
    kind = _task(model)
    if kind == "boxes":  # one box per picture, seen by Keras' layers as a list of one
        boxes = {"boxes": boxes[:, None, :], "labels": np.zeros((len(x), 1), np.int32)}
    augment = {} if augment is True else dict(augment) if isinstance(augment, dict) else augment
    flip = bool(augment.pop("flip", False)) if isinstance(augment, dict) else False
    if isinstance(augment, dict):
        # No turn unless asked for: Keras turns a box by its four corners, so a box turned 8 degrees is about
        # 10-17 % larger than the thing in it, and a detector trained on such boxes draws them too big.
        augment.setdefault("rotation", 0.0)
    settings = _augment_settings(augment)
    ds = tf.data.Dataset.from_tensor_slices((x, boxes))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if settings:
        steps = _box_augmenter(settings, flip, seed)
        colour = {**settings, "rotation": 0.0, "zoom": 0.0, "shift": 0.0}

        @tf.autograph.experimental.do_not_convert  # plain Python: nothing here needs AutoGraph
        def move(images, targets, s):
            data = {"images": images, "bounding_boxes": targets}
            for step in steps:
                data = step(data, training=True)
            return _augment_batch(data["images"], s, colour), data["bounding_boxes"]

        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(lambda batch, s: move(batch[0], batch[1], s))
    if kind == "boxes":
        scale = tf.constant([width, height, width, height], tf.float32)
        ds = ds.map(lambda images, t: (images, tf.clip_by_value(t["boxes"][:, 0, :] / scale, 0.0, 1.0)))
    else:
        from radkit import models

        n_classes = models.centre_classes(model)
        targets = tf.autograph.experimental.do_not_convert(
            lambda images, t: (images, models.centre_targets(t["boxes"], t["labels"], (height, width), n_classes)))
        ds = ds.map(targets)
    return ds.prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- compiling and fitting

def _task(model, y=None) -> str | None:
    """What the model is for, as recorded when radkit built it (``radkit.models.task_of``); None when not recorded.

    For a model radkit did not build, ``y`` (the labels), when given, says only how to feed the data: masks
    shaped like the pictures are fed as masks ("segmentation"), anything else as given.
    """
    from radkit.models import task_of

    task = task_of(model)
    if task is None and y is not None and not isinstance(y, dict) and np.ndim(y) >= 3:
        return "segmentation"
    return task


def _trainable_signature(model) -> int:
    return len(model.trainable_weights)


from radkit.models.losses import _dice_parts, dice_loss, dice_metric  # noqa: E402,F401 - notebook 08's loss


def default_loss(model):
    """The loss and metrics radkit uses for what the model was built for (its task), or a RadkitError if unknown."""
    import keras

    task = _task(model)
    if task == "segmentation":
        return dice_loss, [keras.metrics.MeanMetricWrapper(dice_metric, name="dice")]
    if task in ("boxes", "centres"):
        return _detection_loss(task)
    if task == "multiclass":
        return "sparse_categorical_crossentropy", ["accuracy"]
    if task in ("binary", "multilabel"):
        return "binary_crossentropy", [keras.metrics.BinaryAccuracy(name="accuracy"),
                                       keras.metrics.AUC(name="auc", multi_label=task == "multilabel")]
    raise RadkitError(
        "radkit does not know what this model is for (it did not build it), and the model has no loss yet.",
        "Compile it yourself first, e.g. model.compile(optimizer='adam', loss='binary_crossentropy', "
        "metrics=['accuracy']), or give the loss: train.fit(model, train, val, loss='binary_crossentropy'), "
        "or say what it is for: radkit.models.set_task(model, 'binary').")


def compile_model(model, learning_rate: float = 1e-3, schedule_steps: int | None = None, loss=None, metrics=None):
    """Choose the optimiser (Adam), the loss and the metrics (accuracy, AUC) that suit what the model is for.

    ``loss`` / ``metrics``: your own instead of radkit's (a Keras name such as ``"binary_crossentropy"``, or a
    function); with ``loss`` given, the metrics default to the task's own when radkit knows it, else none.
    """
    import keras

    from radkit.models.losses import register

    register()  # radkit's losses are saved by their registered names, so the model loads anywhere
    if loss is None:
        loss, default_metrics = default_loss(model)
    else:
        default_metrics = default_loss(model)[1] if _task(model) else []
    metrics = default_metrics if metrics is None else list(metrics)
    rate = keras.optimizers.schedules.CosineDecay(learning_rate, schedule_steps) if schedule_steps else learning_rate
    optimizer = keras.optimizers.Adam(rate)
    optimizer._radkit_compiled = True  # how fit tells radkit's compile from your own model.compile
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    model._radkit_signature = _trainable_signature(model)
    return model


def epoch_printer(epochs: int):
    """A Keras callback that prints one short line per epoch: the numbers that matter, and the time."""
    import keras

    class EpochPrinter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            train = "  ".join(f"{k} {logs[k]:.3f}" for k in ("loss", "accuracy", "auc", "dice", "iou") if k in logs)
            val = "  ".join(f"{k[4:]} {logs[k]:.3f}" for k in ("val_loss", "val_accuracy", "val_auc", "val_dice",
                                                                 "val_iou")
                            if k in logs)
            line = f"epoch {epoch + 1:2d}/{epochs}  train: {train}"
            print(line + (f"  | val: {val}" if val else "") + f"  ({time.perf_counter() - self.start:.1f} s)")

    return EpochPrinter()


def fit(model, train, val=None, epochs: int = 15, batch_size: int = 32, class_weight="balanced",
        augment=True, patience: int = 5, learning_rate: float | None = None, schedule: str | None = "cosine",
        seed: int = config.DEFAULT_SEED, verbose=True, label_names=None, loss=None, metrics=None):
    """Train ``model`` on ``train = (images, labels)``, checking on ``val`` after each epoch (notebook 02).

    What it learns from (the loss):

    - a model radkit built: the loss for what it was built for (``radkit.models.task_of``): cross-entropy
      for yes/no and several findings, Dice + cross-entropy for outlines, box and centre losses for detectors;
    - a model you compiled yourself (``model.compile(...)``): your loss, metrics and optimiser, untouched;
    - ``loss=`` (and ``metrics=``): these, whatever the model; radkit compiles it with them (Adam and the
      schedule below). A model radkit did not build, not compiled and without ``loss=``, is refused in plain words.

    - ``class_weight``: ``"balanced"`` (see ``class_weights``), ``None`` or a dict {label: weight}.
    - ``augment``: True, False, or a dict overriding ``AUGMENT``.
    - ``patience``: stop after this many epochs without a better validation AUC, keeping the best weights.
      With ``val=None`` the last epoch's weights are kept (a best epoch judged on augmented training
      pictures would only be noise, and would quietly undo Keras' weight averaging).
    - ``learning_rate``: how big each step is (Adam, 0.001 by default). Giving it recompiles the model
      (a model you compiled yourself keeps its optimiser, with this step size).
    - ``schedule``: ``"cosine"`` (the step size shrinks smoothly to zero by the last epoch: big steps
      first, fine ones at the end), ``"plateau"`` (halved when validation stops improving) or ``None``.
      Cosine applies when radkit compiles; a model you compiled keeps your optimiser's own steps.
    - ``verbose``: True (one line per epoch), False (silent), or Keras' own 1 or 2.
    - Boxes as labels (notebook 07): for a ``box_regressor``, one box per picture (N, 4) in pixels; for a
      ``centre_detector``, ``radkit.boxes.pad(boxes, labels)``. Augmentation then moves each box with its
      picture (``augment={"flip": True}`` only for pictures with no left or right, such as smears).

    Returns Keras' ``History`` with ``.history`` (numbers per epoch), ``.best_epoch`` and ``.seconds``.
    """
    import keras

    from radkit.models import compiled_by_radkit

    kind = _task(model, y=train[1])
    yours = getattr(model, "compiled", False) and not compiled_by_radkit(model)  # the learner's own model.compile
    if kind is None and loss is None and not yours:
        default_loss(model)  # raises: radkit cannot know what to learn
    x = _as_input(train[0], "training", channels=kind == "segmentation", colour=kind == "centres")
    _check_size(x, model, "training images")
    check = _check_boxes if kind in ("boxes", "centres") else _check_labels
    y = check(train[1], len(x), "training", label_names)
    if kind == "segmentation":
        y = _check_masks(y, x, "training")
    val_data = None
    if val is not None:
        xv = _as_input(val[0], "validation", channels=kind == "segmentation", colour=kind == "centres")
        _check_size(xv, model, "validation images")
        yv = check(val[1], len(xv), "validation", label_names)
        if kind == "segmentation":
            yv = _check_masks(yv, xv, "validation")
        val_data = (_box_dataset(xv, yv, model, max(batch_size, 128)) if kind in ("boxes", "centres")
                    else make_dataset(xv, yv, batch_size=max(batch_size, 128)))
    if kind == "binary" and not np.isin(np.unique(y), (0, 1)).all():
        raise RadkitError(f"This model answers yes/no, so its labels must be 0 or 1; these hold {np.unique(y)[:5]}.",
                          "Number the labels 0 (no finding) and 1 (finding), or build the model with "
                          "n_outputs equal to the number of classes.")
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise RadkitError(f"class_weight={class_weight!r} is not understood.",
                              "Use 'balanced', None, or a dict such as {0: 2.0, 1: 0.7}.")
        labels = kind not in ("boxes", "centres") and y.ndim == 1 and np.array_equal(y, np.round(y))  # not measurements
        class_weight = class_weights(y) if labels else None

    config.set_seed(seed)  # same shuffling, augmentation and dropout on every run
    steps = math.ceil(len(x) / batch_size)
    schedule_steps = epochs * steps if schedule == "cosine" else None
    if loss is not None:  # asked: compile with this loss
        compile_model(model, learning_rate or 1e-3, schedule_steps, loss=loss, metrics=metrics)
    elif yours:  # the learner's own compile: their loss, metrics and optimiser stay
        if metrics is not None:
            model.compile(optimizer=model.optimizer, loss=model.loss, metrics=list(metrics))
        if learning_rate is not None:
            model.optimizer.learning_rate = learning_rate
    elif (not getattr(model, "compiled", False) or learning_rate is not None or schedule == "cosine"
            or metrics is not None or getattr(model, "_radkit_signature", None) != _trainable_signature(model)):
        compile_model(model, learning_rate or 1e-3, schedule_steps, metrics=metrics)

    score = "iou" if kind == "boxes" else next(
        (k for k in ("auc", "dice") if f"'{k}'" in str(model.get_compile_config())), None)
    monitor, mode = (f"val_{score}", "max") if val_data is not None and score else (
        ("val_loss", "min") if val_data is not None else ("loss", "min"))
    callbacks = [keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                               restore_best_weights=val_data is not None)]
    if schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5,
                                                           patience=max(1, patience // 2), min_lr=1e-5))
    elif schedule not in (None, "cosine"):
        raise RadkitError(f"schedule={schedule!r} is not understood.", "Use None, 'cosine' or 'plateau'.")
    if verbose is True:
        callbacks.append(epoch_printer(epochs))

    if kind in ("boxes", "centres"):
        train_data = _box_dataset(x, y, model, batch_size, shuffle=True, augment=augment, seed=seed)
    else:
        train_data = make_dataset(x, y, batch_size, shuffle=True, augment=augment, class_weight=class_weight,
                                  seed=seed)
    start = time.perf_counter()
    history = model.fit(train_data, validation_data=val_data, epochs=epochs, callbacks=callbacks, shuffle=False,
                        verbose=verbose if verbose not in (True, False) else 0)
    history.seconds = time.perf_counter() - start
    scores = history.history.get(monitor, [])
    if val_data is None:  # nothing held out to choose by: the last epoch's weights stay (history.best_epoch says so)
        history.best_epoch = len(scores) or None
    else:
        history.best_epoch = int(np.argmax(scores) if mode == "max" else np.argmin(scores)) + 1 if scores else None
    if verbose and scores:
        ran = len(scores)
        stopped = f"stopped early after {ran} epochs" if ran < epochs else f"ran all {ran} epochs"
        kept = (f"best {monitor} {scores[history.best_epoch - 1]:.3f} at epoch {history.best_epoch} (those weights "
                "are kept)" if val_data is not None else
                "no validation pictures, so the last epoch's weights are kept")
        print(f"Done in {history.seconds:.0f} s: {stopped}; {kept}.")
    return history


def plot_history(history, title: str = "Training curves"):
    """Draw the loss and the AUC (or accuracy) per epoch, training vs validation (notebook 02).

    A gap that opens between the two lines is overfitting: the model is
    learning the training pictures by heart.
    """
    import matplotlib.pyplot as plt

    h = history.history
    score = next(k for k in ("auc", "dice", "accuracy", "loss") if k in h)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, key, label in ((axes[0], "loss", "loss (lower is better)"),
                           (axes[1], score, f"{score.upper() if score == 'auc' else score} (higher is better)")):
        epochs = np.arange(1, len(h[key]) + 1)
        ax.plot(epochs, h[key], "o-", label="training")
        if f"val_{key}" in h:
            ax.plot(epochs, h[f"val_{key}"], "o-", label="validation")
        if getattr(history, "best_epoch", None):
            ax.axvline(history.best_epoch, color="grey", linestyle=":", label="best epoch (kept)")
        ax.set(xlabel="epoch", title=label)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # epochs are whole numbers: no "epoch 2.5"
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
