"""Classifiers: the small CNN (notebook 02), transfer models on pretrained bases (notebook 04), the course's
shipped pneumonia classifier, and embeddings with label spreading (notebook 06).
"""

from __future__ import annotations

from pathlib import Path

from radkit import config, download, registry
from radkit.errors import RadkitError

from radkit.models.losses import classifier_task, set_task
from radkit.models.saving import _keras, load_model


# The layers a transfer model adds around its pretrained base; everything else is the base.
TRANSFER_HEAD = ("image", "grey_to_rgb", "scale_for_base", "pool", "dropout", "prediction")


BASES = ("mobilenetv2", "efficientnetb0")


# The classifier notebook 02 trains, as radkit ships it (see radkit/pretrained/README.md).
SHIPPED_CLASSIFIER = Path(__file__).resolve().parent.parent / "pretrained" / "pneumonia_small_cnn_28px.keras"


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
    return set_task(keras.Model(inputs, outputs, name=name), classifier_task(n_outputs, multi_label))


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
    set_task(model, classifier_task(n_outputs, multi_label))
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
    return set_task(_keras().models.load_model(SHIPPED_CLASSIFIER), "binary")  # notebook 02's recipe: yes/no
