"""The course's models: a small CNN, flat transfer models, a small U-Net and FCN-8.

Introduced in notebook 02_first_classifier (``small_cnn``, ``course_classifier``), 04_transfer_learning
(``transfer_model``, ``set_trainable``) and 08_segmentation (``unet``, ``fcn8``).

Every model is a plain Keras Functional model that takes grey pictures as
float32 numbers 0..1, shaped (height, width, 1) - what
``radkit.data.to_model_input`` makes. Layers have names you can look up
(``model.get_layer("last_conv")``), which Grad-CAM needs (notebook 05).
Augmentation is not part of any model: it happens while training
(``radkit.train``), so a saved model holds only what is needed to predict
and exports cleanly to the browser (notebook 09).
"""

from __future__ import annotations

from pathlib import Path

from radkit import config, download, registry
from radkit.errors import RadkitError

# The layers a transfer model adds around its pretrained base; everything else is the base.
TRANSFER_HEAD = ("image", "grey_to_rgb", "scale_for_base", "pool", "dropout", "prediction")
BASES = ("mobilenetv2", "efficientnetb0")
# The classifier notebook 02 trains, as radkit ships it (see radkit/pretrained/README.md).
SHIPPED_CLASSIFIER = Path(__file__).resolve().parent / "pretrained" / "pneumonia_small_cnn_28px.keras"


_keras = config.import_keras  # Keras is imported on first use, quietly


def _output_activation(n_outputs: int, multi_label: bool) -> str:
    """One yes/no answer or several independent findings: sigmoid. One of several classes: softmax."""
    return "sigmoid" if n_outputs == 1 or multi_label else "softmax"


def small_cnn(input_shape=(64, 64, 1), n_outputs: int = 1, filters=(16, 32, 64, 128),
              dropout: float = 0.3, multi_label: bool = False, name: str = "small_cnn"):
    """A small convolutional network for grey pictures (notebook 02).

    Each block looks at 3x3 neighbourhoods (``conv1``, ``conv2``, ...), steadies
    the numbers (batch normalisation) and halves the picture (max pooling), so
    later blocks see larger regions. The last convolution is named
    ``last_conv`` (Grad-CAM looks there). Global average pooling then turns each
    feature map into one number, and a dense layer gives the probability.

    >>> model = small_cnn((64, 64, 1))        # one output: probability of the positive class
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for i, width in enumerate(filters, start=1):
        last = i == len(filters)
        x = layers.Conv2D(width, 3, padding="same", activation="relu",
                          name="last_conv" if last else f"conv{i}")(x)
        # momentum 0.9 (Keras' default is 0.99): the running averages used when predicting then follow
        # the quickly changing weights of a small model within an epoch, instead of lagging behind.
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        if not last:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_outputs, activation=_output_activation(n_outputs, multi_label), name="prediction")(x)
    return keras.Model(inputs, outputs, name=name)


def _is_download_failure(error: Exception) -> bool:
    """True when building a pretrained model failed because its weights could not be downloaded."""
    import urllib.error

    return isinstance(error, (urllib.error.URLError, ConnectionError, TimeoutError)) or (
        "fetch failure" in str(error).lower())


def transfer_model(input_shape=(96, 96, 1), base: str = "mobilenetv2", n_outputs: int = 1,
                   weights: str | None = "imagenet", trainable: bool = False, alpha: float = 0.35,
                   dropout: float = 0.2, multi_label: bool = False):
    """A model that reuses a network pretrained on photos (ImageNet) for grey pictures (notebook 04).

    The grey picture is copied into three colour channels (the base was trained
    on colour photos) and rescaled to the numbers the base expects. The base
    is built on this model's own input, so the model is *flat*: every layer of
    the base can be found by name (Grad-CAM needs that). ``trainable=False``
    freezes the base, so only the new last layer learns; see ``set_trainable``.

    ``weights="imagenet"``: MobileNetV2 (alpha 0.35) uses Keras' official weights file,
    found like a dataset (RADKIT_LOCAL_DATA, the data folder, ~/.keras/models; checked
    by SHA-256) or downloaded once (``radkit.download.keras_weights``); it was trained
    at 224 px and loads into any input size. Other bases use Keras' own download.
    Without the file and without internet the model starts from RANDOM weights, and
    says so: it still works, but the benefit of transfer learning will not show.

    >>> model = transfer_model((96, 96, 1), base="mobilenetv2")
    """
    keras = _keras()
    layers = keras.layers
    base = base.lower().replace("_", "").replace("-", "")
    if base not in BASES:
        raise RadkitError(f"base={base!r} is not one RadKit knows.", f"Use one of: {', '.join(BASES)}.")
    if input_shape[-1] != 1:
        raise RadkitError(f"transfer_model expects grey pictures (last number 1); got input_shape={input_shape}.",
                          "Use input_shape=(height, width, 1) and radkit.data.to_model_input(images).")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    # Concatenate, not a Lambda layer: it says the same thing and exports to the browser.
    rgb = layers.Concatenate(name="grey_to_rgb")([inputs, inputs, inputs])
    rgb_shape = (*tuple(input_shape)[:2], 3)
    if base == "mobilenetv2":
        scaled = layers.Rescaling(2.0, offset=-1.0, name="scale_for_base")(rgb)  # 0..1 -> -1..1

        def build(w):
            return keras.applications.MobileNetV2(input_tensor=scaled, input_shape=rgb_shape, include_top=False,
                                                  weights=w, alpha=alpha)
    else:
        scaled = layers.Rescaling(255.0, name="scale_for_base")(rgb)  # EfficientNet rescales 0..255 itself

        def build(w):
            return keras.applications.EfficientNetB0(input_tensor=scaled, input_shape=rgb_shape, include_top=False,
                                                     weights=w)

    used = weights
    keras_fix = "With internet, run this again: Keras downloads the weights once and keeps them in ~/.keras."
    registry_variant = f"{base}_{alpha:g}"
    if weights == "imagenet" and registry_variant in registry.get("keras_weights").files:
        try:  # the same checked file as a workshop's USB stick or CI has, wherever it comes from
            used = str(download.keras_weights(registry_variant))
        except RadkitError as error:
            used = None
            _say_random_weights(base, error.problem, error.fix)
    elif weights is not None and config.offline():
        used = None
        _say_random_weights(base, "RADKIT_OFFLINE is set", keras_fix)
    try:
        backbone = build(used)
    except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception for a failed download
        if used is None or not _is_download_failure(error):
            raise
        used = None
        _say_random_weights(base, "the download failed: " + str(error).split(" -- ")[-1].splitlines()[0][:100],
                            keras_fix)
        backbone = build(None)
    x = layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_outputs, activation=_output_activation(n_outputs, multi_label), name="prediction")(x)
    # The name says what it started from, so a saved model remembers it.
    model = keras.Model(inputs, outputs, name=f"{base}_{'imagenet' if used else 'random'}")
    set_trainable(model, trainable)
    return model


def _say_random_weights(base: str, reason: str, fix: str) -> None:
    print(f"Could not get the pretrained ImageNet weights for {base}: {reason}\n"
          "The model starts from RANDOM weights instead. It will still train, but it has learned nothing "
          "from photos,\nso the benefit of transfer learning will NOT show: results below are from random "
          f"weights.\nTo get them: {fix}")


def base_layers(model) -> list:
    """The layers of a transfer model's pretrained base (every layer except the added ones)."""
    return [layer for layer in model.layers if layer.name not in TRANSFER_HEAD]


def is_pretrained(model) -> bool:
    """True when a transfer model started from ImageNet weights, False when from random ones."""
    return model.name.endswith("_imagenet")


def set_trainable(model, base_trainable: bool, fine_tune_from=None, freeze_batchnorm: bool | None = None):
    """Freeze the pretrained base of a transfer model, or let it learn (fine-tuning) (notebook 04).

    ``base_trainable=False``: only the new last layer learns ("frozen").
    ``base_trainable=True``: the base learns too; ``fine_tune_from`` (a layer
    name or a position in the base) unfreezes only that layer and those after
    it, the ones that see whole shapes rather than edges. Train again
    afterwards (``radkit.train.fit`` notices the change and recompiles), with
    a small learning rate so the pretrained features are adjusted, not erased.
    ``freeze_batchnorm`` defaults to True for pretrained weights. Returns the model.
    """
    keras = _keras()
    if freeze_batchnorm is None:
        # Pretrained: a frozen BatchNorm layer keeps the averages it measured on millions of photos.
        # Re-measuring them on our few small batches of X-rays would shift every later layer at once
        # and can wreck the pretrained features in one epoch. Random weights have no such averages
        # to protect, and without normalising their signals fade to nothing, so there they learn.
        freeze_batchnorm = is_pretrained(model)
    base = base_layers(model)
    start = 0
    if fine_tune_from is not None:
        names = [layer.name for layer in base]
        if isinstance(fine_tune_from, str):
            if fine_tune_from not in names:
                raise RadkitError(f"The base has no layer named {fine_tune_from!r}.",
                                  "List the names with [layer.name for layer in radkit.models.base_layers(model)].")
            start = names.index(fine_tune_from)
        else:
            start = int(fine_tune_from) % len(base)
    for i, layer in enumerate(base):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = not freeze_batchnorm
        else:
            layer.trainable = bool(base_trainable) and i >= start
    return model


def unet(input_shape=(128, 128, 1), n_classes: int = 1, base_filters: int = 16, depth: int = 3):
    """A small U-Net for outlining structures, one probability per pixel (notebook 08).

    The encoder halves the picture ``depth`` times while learning what is
    there; the decoder doubles it back, and skip connections bring back the
    fine detail of where. With ``base_filters=16`` it has about 470,000 weights.
    """
    keras = _keras()
    layers = keras.layers

    def double_conv(x, width, name):
        for j in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv{j}")(x)
        return x

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = double_conv(x, base_filters * 2**level, f"down{level + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    x = double_conv(x, base_filters * 2**depth, "bottom")
    for level in reversed(range(depth)):
        width = base_filters * 2**level
        x = layers.Conv2DTranspose(width, 2, strides=2, padding="same", name=f"up{level + 1}")(x)
        x = layers.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
        x = double_conv(x, width, f"dec{level + 1}")
    outputs = layers.Conv2D(n_classes, 1, activation="sigmoid" if n_classes == 1 else "softmax", name="mask")(x)
    return keras.Model(inputs, outputs, name="unet")


def fcn8(input_shape=(64, 64, 1), n_classes: int = 1, base_filters: int = 16):
    """FCN-8: the first fully convolutional outliner (Long et al. 2015), CPU-sized, beside ``unet`` (notebook 08).

    Five blocks halve the picture five times (down to 1/32). The answer is made at
    1/32, doubled and added to a guess from 1/16, doubled again and added to one from
    1/8, then enlarged 8 times in one step. There are no skip connections at full
    size, so its outlines are blockier than a U-Net's. Height and width must be multiples of 32.
    """
    keras = _keras()
    layers = keras.layers
    if input_shape[0] % 32 or input_shape[1] % 32:
        raise RadkitError(f"FCN-8 needs a height and width that are multiples of 32; got {tuple(input_shape[:2])}.",
                          "Pad the slices, e.g. radkit.volumes.to_slices(..., size=(64, 64)).")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, pooled = inputs, {}
    for block, (width, convs) in enumerate(zip((1, 2, 4, 8, 8), (2, 2, 3, 3, 3)), start=1):
        for j in range(1, convs + 1):
            x = layers.Conv2D(base_filters * width, 3, padding="same", activation="relu", name=f"block{block}_conv{j}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        pooled[block] = x
    x = layers.Conv2D(base_filters * 16, 3, padding="same", activation="relu", name="fc6")(x)
    x = layers.Conv2D(base_filters * 16, 1, activation="relu", name="fc7")(x)
    score = layers.Conv2D(n_classes, 1, name="score32")(x)
    score = layers.Conv2DTranspose(n_classes, 4, strides=2, padding="same", name="up32")(score)
    score = layers.Add(name="fuse16")([score, layers.Conv2D(n_classes, 1, name="score16")(pooled[4])])
    score = layers.Conv2DTranspose(n_classes, 4, strides=2, padding="same", name="up16")(score)
    score = layers.Add(name="fuse8")([score, layers.Conv2D(n_classes, 1, name="score8")(pooled[3])])
    score = layers.Conv2DTranspose(n_classes, 16, strides=8, padding="same", name="up8")(score)
    outputs = layers.Activation("sigmoid" if n_classes == 1 else "softmax", name="mask")(score)
    return keras.Model(inputs, outputs, name="fcn8")


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


def embeddings(model, images, layer: str = "pool", batch_size: int = 256):
    """What the network "sees" in each picture: the numbers of its layer before the answer (notebook 06).

    By default the ``pool`` layer (one number per feature map), which every RadKit
    classifier has. Pictures that look alike to the model get similar numbers,
    which is what label spreading relies on. Returns (N, features) float32.
    """
    import numpy as np

    from radkit.data import to_model_input

    keras = _keras()
    names = [item.name for item in model.layers]
    if layer not in names:
        raise RadkitError(f"The model has no layer named {layer!r}.",
                          "Use a RadKit classifier (it has a 'pool' layer), or pass layer= one of its layer names.")
    cut = keras.Model(model.input, model.get_layer(layer).output)
    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 or images.ndim == 3 else images.astype(np.float32)
    out = np.concatenate([np.asarray(cut(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)])
    return out.reshape(len(out), -1).astype(np.float32)


def spread_labels(features, labels, n_neighbors: int = 10, alpha: float = 0.2):
    """Give unlabelled pictures the labels of the labelled pictures they resemble (notebook 06).

    scikit-learn's ``LabelSpreading`` on a k-nearest-neighbour graph of ``features``
    (e.g. ``embeddings``). ``labels`` holds 0/1 for labelled pictures and -1 for
    unlabelled ones. Returns (hard labels for every picture, probability of 1).
    The labelled pictures keep (almost always) their own labels.
    """
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from sklearn.semi_supervised import LabelSpreading

    labels = np.asarray(labels).astype(int)
    if len(labels) != len(features):
        raise RadkitError(f"There are {len(features)} pictures but {len(labels)} labels.",
                          "Give one label per picture: 0 or 1 where known, -1 where unknown.")
    known = labels[labels != -1]
    if len(np.unique(known)) < 2:
        raise RadkitError("Label spreading needs labelled pictures of both kinds (some 0 and some 1).",
                          "Keep at least a few labels of each kind; write -1 only for the unknown ones.")
    spreader = LabelSpreading(kernel="knn", n_neighbors=min(n_neighbors, len(labels) - 1), alpha=alpha)
    spreader.fit(StandardScaler().fit_transform(features), labels)
    probability = spreader.label_distributions_[:, list(spreader.classes_).index(1)]
    return spreader.transduction_.astype(int), probability.astype(np.float32)


def saved_classifier_path() -> Path:
    """Where notebook 02 saves its trained classifier: ``models/first_classifier.keras`` in the data folder."""
    return config.data_dir() / "models" / "first_classifier.keras"


def course_classifier(source: str = "auto"):
    """The pneumonia classifier of notebook 02, ready to use, so later notebooks need not train it again.

    ``source="auto"``: the model you saved in notebook 02 when it is there,
    otherwise the small one shipped with radkit (notebook 02's recipe trained
    on real PneumoniaMNIST at 28 px; radkit/pretrained/README.md says how).
    ``"saved"`` insists on yours; ``"shipped"`` always takes radkit's.
    Prints in one line which model it uses (notebooks 03, 05 and 09).
    """
    if source not in ("auto", "saved", "shipped"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'saved', 'shipped'.", "Use source='auto'.")
    saved = saved_classifier_path()
    if source != "shipped":
        if saved.is_file():
            try:
                model = load_model(saved)
            except Exception as error:  # noqa: BLE001 - a damaged file should not stop the lesson
                if source == "saved":
                    raise RadkitError(f"The model saved in notebook 02 could not be read ({type(error).__name__}).",
                                      "Run notebook 02's saving cell again.") from error
                print(f"Using the classifier that comes with radkit: yours (models/{saved.name} in the data "
                      f"folder) could not be read ({type(error).__name__}).")
            else:
                print(f"Using the classifier you trained and saved in notebook 02 (models/{saved.name} in the "
                      f"data folder, {model.input_shape[1]} px).")
                return model
        elif source == "saved":
            raise RadkitError("There is no classifier saved by notebook 02 yet.",
                              "Run notebook 02 to the end (it saves the model), or use course_classifier().")
        else:
            print("Using the classifier that comes with radkit (notebook 02's recipe, trained on real "
                  "PneumoniaMNIST at 28 px): you have not saved your own in notebook 02 yet.")
    else:
        print("Using the classifier that comes with radkit (notebook 02's recipe, trained on real "
              "PneumoniaMNIST at 28 px).")
    if not SHIPPED_CLASSIFIER.is_file():
        raise RadkitError("radkit's own classifier file is missing from this installation.",
                          "Reinstall radkit, or run notebook 02 to train and save your own.")
    return _keras().models.load_model(SHIPPED_CLASSIFIER)
# ---------------------------------------------------------------- detection (notebook 07)

def _edge_layer():
    """The Keras layer that turns a feature map into box edges: a score per column (row), averaged (notebook 07)."""
    keras = _keras()

    @keras.saving.register_keras_serializable(package="radkit")
    class BoxEdges(keras.layers.Layer):
        """Four box edges as score-weighted average positions: the ``"edges"`` head of ``box_regressor``.

        Input: a feature map (rows, cols, 4) of scores for x_min, y_min, x_max, y_max.
        x-edges average the scores over rows (one score per column), y-edges over
        columns; a softmax turns the scores into weights, and the edge is the
        weighted average position (0..1). A learned bias per position starts as a
        bump at ``start_box``, so the untrained model answers the average box.
        """

        def __init__(self, start_box=(0.3, 0.4, 0.7, 0.8), spread: float = 0.08, **kwargs):
            super().__init__(**kwargs)
            self.start_box = [float(v) for v in start_box]
            self.spread = float(spread)

        def build(self, input_shape):
            import numpy as np

            rows, cols = int(input_shape[1]), int(input_shape[2])
            self.rows, self.cols = rows, cols
            places = [(np.arange(n) + 0.5) / n for n in (cols, rows, cols, rows)]
            bumps = [-((p - c) ** 2) / (2 * self.spread**2) for p, c in zip(places, self.start_box)]
            for name, values in (("x_bias", np.stack([bumps[0], bumps[2]], -1)),
                                 ("y_bias", np.stack([bumps[1], bumps[3]], -1))):
                setattr(self, name, self.add_weight(name=name, shape=values.shape,
                                                    initializer=keras.initializers.Constant(values.astype("float32"))))

        def call(self, scores):
            ops = keras.ops
            rows, cols = self.rows, self.cols
            x_scores = ops.mean(ops.take(scores, [0, 2], axis=-1), axis=1) + self.x_bias   # (N, cols, 2)
            y_scores = ops.mean(ops.take(scores, [1, 3], axis=-1), axis=2) + self.y_bias   # (N, rows, 2)
            x_places = (ops.arange(cols, dtype="float32") + 0.5) / cols
            y_places = (ops.arange(rows, dtype="float32") + 0.5) / rows
            x = ops.sum(ops.softmax(x_scores, axis=1) * x_places[None, :, None], axis=1)       # (N, 2)
            y = ops.sum(ops.softmax(y_scores, axis=1) * y_places[None, :, None], axis=1)
            return ops.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=-1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 4)

        def get_config(self):
            return {**super().get_config(), "start_box": self.start_box, "spread": self.spread}

    return BoxEdges


def box_regressor(input_shape=(128, 128, 1), base: str = "small_cnn", weights: str | None = "imagenet",
                  trainable: bool = True, dropout: float = 0.2, start_box=None, head: str = "dense",
                  feature_layer: str | None = None):
    """A model that draws one box around one thing (the heart): four numbers out (notebook 07).

    The four outputs are the box's corners ``[x_min, y_min, x_max, y_max]`` as
    fractions of the picture's width and height (0..1), so the same model fits
    any picture size: multiply by the size to get pixels (``predict_boxes``).
    ``start_box`` (fractions, e.g. the average training box) is what the untrained
    model answers for every film, so training starts from the "average box"
    and learns how each film differs from it.
    The features come from the small CNN of notebook 02 or the pretrained
    MobileNetV2 of notebook 04 (``base="mobilenetv2"``); unlike a classifier,
    the head keeps *where* each feature was, because a box is all about where:
    ``head="dense"`` flattens the map into a small dense layer; ``head="edges"``
    scores every column (for the left and right edges) and every row (top and
    bottom) and takes the score-weighted average position, so a heart moved
    on the film moves its box the same way (what notebook 07 uses).
    ``feature_layer`` picks the base's map by layer name (for MobileNetV2,
    ``"block_13_expand_relu"`` is 16 times smaller than the film; the default, the last, 32 times).
    """
    import numpy as np

    keras = _keras()
    layers = keras.layers
    if head not in ("dense", "edges"):
        raise RadkitError(f"head={head!r} is not one box_regressor knows.", "Use head='dense' or head='edges'.")
    if base == "small_cnn":
        trunk = small_cnn(input_shape, filters=(16, 32, 64, 96))
        model_input, feature_map = trunk.input, trunk.get_layer(feature_layer or "bn4").output
    else:
        trunk = transfer_model(input_shape, base=base, weights=weights, trainable=trainable)
        model_input = trunk.input
        feature_map = trunk.get_layer(feature_layer).output if feature_layer else trunk.get_layer("pool").input
    start = np.clip(np.asarray(start_box if start_box is not None else (0.3, 0.4, 0.7, 0.8), np.float32), 0.01, 0.99)
    if head == "edges":
        x = layers.Dropout(dropout, name="box_dropout")(feature_map)
        x = layers.Conv2D(32, 3, padding="same", activation="relu", name="box_reduce")(x)
        x = layers.Conv2D(4, 1, name="edge_scores", kernel_initializer="zeros")(x)
        outputs = _edge_layer()(start_box=start.tolist(), name="box")(x)
        return keras.Model(model_input, outputs, name=f"box_regressor_edges_{trunk.name}")
    x = layers.Conv2D(16, 1, activation="relu", name="box_reduce")(feature_map)
    x = layers.Flatten(name="box_flatten")(x)
    x = layers.Dropout(dropout, name="box_dropout")(x)
    x = layers.Dense(64, activation="relu", name="box_dense")(x)
    outputs = layers.Dense(4, activation="sigmoid", name="box", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(np.log(start / (1 - start))))(x)
    return keras.Model(model_input, outputs, name=f"box_regressor_{trunk.name}")


def predict_boxes(model, images) -> "np.ndarray":
    """Boxes a ``box_regressor`` draws, in pixels of the pictures given: (N, 4) corners (notebook 07)."""
    import numpy as np

    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 else images
    height, width = x.shape[1:3]
    fractions = model.predict(x, verbose=0)
    boxes = fractions * np.array([width, height, width, height], dtype=np.float32)
    # A box is never inside out: sort each pair of corners.
    return np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)


CENTRE_STRIDE = 4  # the centre detector's map is 4 times smaller than the picture


def centre_detector(input_shape=(120, 160, 1), n_classes: int = 3, width: int = 48, base: str = "small",
                    weights: str | None = "imagenet"):
    """A small detector for many objects per picture: a map of object centres per class, plus box sizes (notebook 07).

    Like a heat map: each cell of the output (one per 4 x 4 pixels) says how
    likely an object's centre of each class is there (channels 0..n_classes-1),
    and how wide and tall that object is as fractions of the picture (last two
    channels). A peak in the map is a found cell; its height is the confidence.
    This is the idea of CenterNet (Zhou et al., 2019), made small.

    ``base="small"``: dilated convolutions let each output cell see about 70
    pixels around it with few weights. ``base="mobilenetv2"``: the pretrained
    MobileNetV2 of notebook 04 sees the picture; its maps 16, 8 and 4 times
    smaller than the picture are enlarged and added (what sees far meets what
    sees fine), so one map serves large white cells and small platelets alike.
    Its height and width must be multiples of 16 (for example 240 x 320).
    """
    import math

    keras = _keras()
    layers = keras.layers
    if base == "small":
        inputs = keras.Input(shape=tuple(input_shape), name="image")
        x = inputs
        for i, (filters, dilation) in enumerate(((16, 1), (32, 1), (width, 1), (width, 2), (width, 4), (width, 1)), 1):
            x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, activation="relu", name=f"conv{i}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
            if i <= 2:
                x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        name = "centre_detector"
    elif base == "mobilenetv2":
        if input_shape[0] % 16 or input_shape[1] % 16:
            raise RadkitError(f"The MobileNetV2 centre detector needs a height and width that are multiples of 16; "
                              f"got {input_shape[0]} x {input_shape[1]}.",
                              "Load the smears with such a size, for example load_blood_cells(size=(240, 320)).")
        trunk = transfer_model(tuple(input_shape), base="mobilenetv2", weights=weights, trainable=True)
        inputs = trunk.input
        x = None
        for level in ("block_13_expand_relu", "block_6_expand_relu", "block_3_expand_relu"):  # 1/16, 1/8, 1/4
            side = layers.Conv2D(width, 1, activation="relu", name=f"side_{level.split('_')[1]}")(
                trunk.get_layer(level).output)
            x = side if x is None else layers.Add(name=f"add_{level.split('_')[1]}")(
                [layers.UpSampling2D(2, name=f"up_{level.split('_')[1]}")(x), side])
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name="mix")(x)
        x = layers.BatchNormalization(momentum=0.9, name="mix_bn")(x)
        name = f"centre_detector_{trunk.name}"
    else:
        raise RadkitError(f"base={base!r} is not one centre_detector knows.", "Use base='small' or base='mobilenetv2'.")
    prior = -math.log((1 - 0.01) / 0.01)  # start by saying "1 % chance of a centre" everywhere: steadier training
    centres = layers.Conv2D(n_classes, 1, activation="sigmoid", name="centre_map",
                            bias_initializer=keras.initializers.Constant(prior))(x)
    # Sizes start at a tenth of the picture (a typical cell), not half of it: fewer steps to learn them.
    sizes = layers.Conv2D(2, 1, activation="sigmoid", name="size_map",
                          bias_initializer=keras.initializers.Constant(-2.2))(x)
    outputs = layers.Concatenate(name="centres")([centres, sizes])
    return keras.Model(inputs, outputs, name=name)


def centre_targets(boxes, labels, image_shape, n_classes: int):
    """What a ``centre_detector`` should answer for a batch of pictures with their boxes (TensorFlow; used by train.fit).

    ``boxes`` (N, M, 4) corners in pixels and ``labels`` (N, M), -1 for padding.
    Each object puts a soft peak (a Gaussian as wide as a sixth of the object)
    at its centre in its class's channel; the last two channels hold the
    object's width and height (fractions of the picture) at the centre cell.
    """
    tf = config.import_tensorflow()
    height, width = image_shape
    rows, cols = height // CENTRE_STRIDE, width // CENTRE_STRIDE
    boxes = tf.cast(boxes, tf.float32)
    labels = tf.cast(labels, tf.int32)  # Keras' augmentation layers hand labels back as floats
    valid = tf.cast(labels >= 0, tf.float32)                               # (N, M)
    centre_x = (boxes[..., 0] + boxes[..., 2]) / 2 / CENTRE_STRIDE
    centre_y = (boxes[..., 1] + boxes[..., 3]) / 2 / CENTRE_STRIDE
    cell_x = tf.clip_by_value(tf.floor(centre_x), 0, cols - 1)
    cell_y = tf.clip_by_value(tf.floor(centre_y), 0, rows - 1)
    box_w = (boxes[..., 2] - boxes[..., 0]) / CENTRE_STRIDE
    box_h = (boxes[..., 3] - boxes[..., 1]) / CENTRE_STRIDE
    sigma = tf.maximum(tf.minimum(box_w, box_h) / 6.0, 0.7)
    grid_y = tf.range(rows, dtype=tf.float32)[None, None, :, None]
    grid_x = tf.range(cols, dtype=tf.float32)[None, None, None, :]
    d2 = (grid_x - cell_x[..., None, None]) ** 2 + (grid_y - cell_y[..., None, None]) ** 2
    peaks = tf.exp(-d2 / (2 * sigma[..., None, None] ** 2)) * valid[..., None, None]      # (N, M, rows, cols)
    one_hot = tf.one_hot(tf.maximum(labels, 0), n_classes) * valid[..., None]            # (N, M, C)
    heat = tf.reduce_max(peaks[..., None] * one_hot[:, :, None, None, :], axis=1)        # (N, rows, cols, C)
    at_centre = tf.cast(d2 < 0.5, tf.float32) * valid[..., None, None]                   # (N, M, rows, cols)
    size_w = tf.reduce_max(at_centre * (box_w * CENTRE_STRIDE / width)[..., None, None], axis=1)
    size_h = tf.reduce_max(at_centre * (box_h * CENTRE_STRIDE / height)[..., None, None], axis=1)
    return tf.concat([heat, size_w[..., None], size_h[..., None]], axis=-1)


def centre_loss(n_classes: int):
    """The centre detector's loss: focal loss on the centre maps (CenterNet's) plus the size error at centres."""
    keras = _keras()
    ops = keras.ops

    def loss(y_true, y_pred):
        heat, pred = y_true[..., :n_classes], ops.clip(y_pred[..., :n_classes], 1e-4, 1 - 1e-4)
        is_centre = ops.cast(heat > 0.999, "float32")
        n = ops.maximum(ops.sum(is_centre), 1.0)
        positive = -ops.log(pred) * (1 - pred) ** 2 * is_centre
        negative = -ops.log(1 - pred) * pred**2 * (1 - heat) ** 4 * (1 - is_centre)
        at = ops.max(is_centre, axis=-1, keepdims=True)
        size = ops.sum(ops.abs(y_true[..., n_classes:] - y_pred[..., n_classes:]) * at)
        return (ops.sum(positive) + ops.sum(negative) + 10.0 * size) / n

    return loss


def detect(model, images, threshold: float = 0.05, max_objects: int = 200, image_size=None) -> list:
    """Find objects with a ``centre_detector``: one ``(boxes, labels, scores)`` per picture (notebook 07).

    A found object is a local peak of its class's map (higher than its 8
    neighbours) above ``threshold``. Boxes are corners in pixels of the pictures
    given, or of ``image_size`` (height, width) to map back to the original files.
    """
    import numpy as np

    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 else images
    return decode_centres(model.predict(x, verbose=0), image_size or x.shape[1:3], threshold, max_objects)


def decode_centres(maps, image_size, threshold: float = 0.05, max_objects: int = 200) -> list:
    """Turn a centre detector's maps (N, rows, cols, classes + 2) into ``(boxes, labels, scores)`` per picture."""
    import numpy as np
    from scipy import ndimage

    height, width = image_size
    n_classes = maps.shape[-1] - 2
    found = []
    for output in maps:
        heat = output[..., :n_classes]
        peaks = (heat == ndimage.maximum_filter(heat, size=(3, 3, 1))) & (heat >= threshold)
        rows, cols, labels = np.nonzero(peaks)
        scores = heat[rows, cols, labels]
        order = np.argsort(-scores)[:max_objects]
        rows, cols, labels, scores = rows[order], cols[order], labels[order], scores[order]
        cx = (cols + 0.5) / heat.shape[1] * width
        cy = (rows + 0.5) / heat.shape[0] * height
        w, h = output[rows, cols, n_classes] * width, output[rows, cols, n_classes + 1] * height
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        found.append((boxes.reshape(-1, 4), labels.astype(int), scores.astype(np.float32)))
    return found
