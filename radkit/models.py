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
        raise RadkitError(f"There is no saved model at {path}.",
                          "Check the path, or save one first with radkit.models.save_model(model, path).")
    return path


def save_model(model, path) -> Path:
    """Save a model to one ``.keras`` file (its layers and learned weights) (notebook 02)."""
    path = _keras_path(path, must_exist=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def load_model(path):
    """Load a model saved with ``save_model``; it predicts exactly as it did when saved (notebook 02)."""
    path = _keras_path(path, must_exist=True)
    return _keras().models.load_model(path)


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
