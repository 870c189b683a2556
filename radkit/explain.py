"""Where is the model looking? Grad-CAM, occlusion, overlays, a sanity check and a shortcut demo.

Introduced in notebook 05_explainability.

- ``gradcam`` - a heatmap of the regions that pushed the model towards its
  answer, from the last convolution (through tf-explain where it works under
  Keras 3, otherwise our own short GradientTape version: same sums);
- ``cam`` - the class activation map of a classifier that ends in global average
  pooling then one dense layer: exact and cheap, what the browser app draws (notebook 09);
- ``occlusion`` - cover one small square at a time and see how much the answer drops;
- ``overlay`` / ``show_heatmaps`` - the heatmap over the original picture;
- ``sanity_check`` - heatmaps from a copy with random weights must look
  different, or the heatmap shows the picture, not the model (Adebayo et al. 2018);
- ``add_marker`` - burn a bright marker into the films of one label, to show
  how a model can learn a shortcut instead of the disease.

Heatmaps are NumPy arrays (N, H, W) scaled 0..1, the size of the pictures.
"""

from __future__ import annotations

import warnings

import numpy as np

from radkit import config
from radkit.data import to_model_input
from radkit.errors import RadkitError
from radkit.evaluate import model_outputs

CONV_TYPES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")


_keras = config.import_keras  # Keras is imported on first use, quietly


# ---------------------------------------------------------------- finding the layer

def _is_model(layer) -> bool:
    return isinstance(layer, _keras().Model)


def conv_layer_path(model, layer_name: str | None = None) -> list[str]:
    """Where Grad-CAM looks: the names from the outer model down to a convolution layer.

    ``layer_name=None`` picks the layer called ``last_conv`` if there is one
    (radkit.models.small_cnn has it), else the last convolution, also inside a
    pretrained base nested as one layer (then the path has two names).
    """
    def search(m, path):
        found = None
        for layer in m.layers:
            if _is_model(layer):
                found = search(layer, path + [layer.name]) or found
            elif type(layer).__name__ in CONV_TYPES:
                found = path + [layer.name]
        return found

    if layer_name is not None:
        def named(m, path):
            for layer in m.layers:
                if layer.name == layer_name:
                    return path + [layer.name]
                if _is_model(layer) and (inner := named(layer, path + [layer.name])):
                    return inner
            return None

        path = named(model, [])
        if path is None:
            raise RadkitError(f"The model has no layer named {layer_name!r}.",
                              "Leave layer_name=None to use the last convolution, or list the names with "
                              "[layer.name for layer in model.layers].")
        return path
    if any(layer.name == "last_conv" for layer in model.layers):
        return ["last_conv"]
    path = search(model, [])
    if path is None:
        raise RadkitError(
            f"Grad-CAM needs a convolutional layer, and the model {model.name!r} has none: it weighs the feature "
            "maps of a convolution by how much they change the answer.",
            "Use a convolutional model such as radkit.models.small_cnn(), or use radkit.explain.occlusion(), "
            "which works with any model.")
    return path


def _is_flat_functional(model, path) -> bool:
    """tf-explain's Grad-CAM works on Functional models with the layer directly inside (not nested, not Sequential)."""
    return len(path) == 1 and not isinstance(model, _keras().Sequential)


# ---------------------------------------------------------------- Grad-CAM

def _features_and_output(model, path, x):
    """Run the model on ``x`` and return (the feature maps of the layer at ``path``, the output).

    A Functional model with the layer inside is cut into a two-output model. A
    Sequential model, or one with its base nested as a single layer, is run
    layer by layer, stepping into the nested base.
    """
    keras = _keras()
    if _is_flat_functional(model, path):
        two_outputs = keras.Model(model.inputs, [model.get_layer(path[0]).output, model.outputs[0]])
        return two_outputs(x, training=False)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):
        for before, layer in zip(model.layers, model.layers[1:]):
            if layer.input is not before.output:  # branches: we cannot run it as a chain
                raise RadkitError(
                    f"The model {model.name!r} nests {path[0]!r} inside a model with branches, which RadKit's "
                    "Grad-CAM cannot step through.",
                    "Build the model flat (radkit.models.transfer_model does), or pick a layer outside the base "
                    "with layer_name=...")
    features = None
    for layer in layers:
        if layer.name != path[0]:
            x = layer(x, training=False)
        elif len(path) == 1:
            x = features = layer(x, training=False)
        else:
            features, x = _features_and_output(layer, path[1:], x)
    return features, x


def _tape_cams(model, x, path, class_index, guided):
    """Grad-CAM with tf.GradientTape: average each feature map's gradient, weigh the maps by it and add them up."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        features, output = _features_and_output(model, path, tf.constant(x))
        score = output[:, class_index]
    grads = tape.gradient(score, features)
    if guided:  # tf-explain's "guided" option: keep only positive gradients where the feature is active
        grads = tf.cast(features > 0, "float32") * tf.cast(grads > 0, "float32") * grads
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.reduce_sum(weights * features, axis=-1).numpy()


def _tf_explain_cams(model, x, layer_name, class_index, guided):
    """The same sums through tf-explain's GradCAM (needs a Functional model and an explicit layer name)."""
    from tf_explain.core.grad_cam import GradCAM

    with warnings.catch_warnings():  # tf-explain passes the inputs as a nested list; Keras 3 warns about it
        warnings.simplefilter("ignore")
        features, grads = GradCAM.get_gradients_and_filters(model, x, layer_name, class_index, guided)
        cams = GradCAM.generate_ponderated_output(features, grads)
    return np.stack([np.asarray(cam) for cam in cams])


def _to_heatmaps(cams: np.ndarray, size) -> np.ndarray:
    """Keep what speaks for the answer (ReLU), stretch to the picture's size, scale each map to 0..1."""
    import tensorflow as tf

    cams = np.maximum(cams, 0)[..., None]
    maps = tf.image.resize(cams, size, method="bilinear").numpy()[..., 0]
    top = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(top > 0, maps / np.where(top > 0, top, 1), 0.0).astype(np.float32)


def gradcam(model, images, layer_name: str | None = None, method: str = "auto", class_index: int = 0,
            guided: bool = False) -> np.ndarray:
    """Grad-CAM heatmaps: which regions pushed the model towards its answer (notebook 05).

    ``layer_name=None`` uses the last convolution. ``method="tf-explain"`` uses
    the tf-explain library (Functional models, layer directly inside);
    ``"tape"`` our own few lines; ``"auto"`` tf-explain where it works, else the tape.
    ``class_index`` is which output to explain (0: the one probability of a yes/no model).
    Returns (N, H, W) maps, each scaled 0..1.
    """
    x = to_model_input(images)
    path = conv_layer_path(model, layer_name)
    if method not in ("auto", "tf-explain", "tape"):
        raise RadkitError(f"method={method!r} is not one RadKit knows.", "Use 'auto', 'tf-explain' or 'tape'.")
    flat = _is_flat_functional(model, path)
    if method == "tf-explain" and not flat:
        raise RadkitError(
            "tf-explain's Grad-CAM cannot handle this model under Keras 3 (it needs a Functional model with the "
            "layer directly inside; this one is Sequential or has its base nested as one layer).",
            "Use method='tape' (or 'auto'), which gives the same heatmap, or build the model flat.")
    if method == "tape" or not flat:
        cams = _tape_cams(model, x, path, class_index, guided)
    else:
        cams = _tf_explain_cams(model, x, path[0], class_index, guided)
    return _to_heatmaps(cams, x.shape[1:3])


# ---------------------------------------------------------------- CAM (what the browser app draws)

def cam_layers(model):
    """For a classifier ending in global average pooling then one dense layer (radkit.models.small_cnn and
    transfer_model): (the pooling layer, the dense layer), or a RadkitError saying why CAM does not apply."""
    keras = _keras()
    dense = model.outputs[0]._keras_history[0]
    node = dense
    while True:  # step back over layers that do nothing at inference (dropout) to the pooling
        node = node.input._keras_history[0]
        if not isinstance(node, (keras.layers.Dropout, keras.layers.SpatialDropout2D)):
            break
    if not isinstance(dense, keras.layers.Dense) or not isinstance(node, keras.layers.GlobalAveragePooling2D) \
            or getattr(node, "keepdims", False):
        raise RadkitError(
            f"The class activation map needs a model that ends in global average pooling then one dense layer; "
            f"{model.name!r} ends in {type(node).__name__} then {type(dense).__name__}.",
            "Use radkit.explain.gradcam, which works with any convolutional model.")
    return node, dense


def cam(model, images, class_index: int = 0) -> np.ndarray:
    """Class activation maps (Zhou et al. 2016): the dense layer's weights for one class times the feature maps it
    pools, negative parts dropped, stretched to the picture's size, scaled 0..1 (notebooks 05 and 09).

    Exact and cheap for the course's classifiers (global average pooling then one dense layer): it is what the
    browser app of notebook 09 draws over the image. Returns (N, H, W) maps like ``gradcam``.
    """
    keras = _keras()
    x = to_model_input(images)
    pool, dense = cam_layers(model)
    kernel = np.asarray(dense.kernel.numpy(), dtype=np.float32)
    if not 0 <= class_index < kernel.shape[1]:
        raise RadkitError(f"class_index={class_index} is not one of the model's {kernel.shape[1]} outputs.",
                          f"Use a number from 0 to {kernel.shape[1] - 1}.")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # one input: no list (Keras warns)
    features = keras.Model(inputs, pool.input)(x, training=False)
    cams = np.einsum("nhwk,k->nhw", np.asarray(features, dtype=np.float32), kernel[:, class_index])
    return _to_heatmaps(cams, x.shape[1:3])


# ---------------------------------------------------------------- occlusion

def occlusion(model, images, patch: int = 8, stride: int = 4, class_index: int = 0,
              batch_size: int = 256) -> np.ndarray:
    """Occlusion sensitivity: grey out one square at a time; the map is how much the probability drops (notebook 05).

    It needs nothing inside the model, only its answers, so it works for any
    model. (tf-explain's OcclusionSensitivity greys with 127.5, meant for
    0..255 pictures; ours fills with each picture's own mean and slides by
    ``stride`` for a smoother map.) Returns (N, H, W) maps, each scaled 0..1.
    """
    x = to_model_input(images)
    n, height, width = x.shape[:3]
    if patch < 1 or stride < 1 or patch > min(height, width):
        raise RadkitError(f"patch={patch}, stride={stride} do not fit {height} x {width} pictures.",
                          "Use a patch of a few pixels (about 1/8 of the picture) and a stride of half the patch.")
    corners = [(top, left) for top in range(0, height - patch + 1, stride)
               for left in range(0, width - patch + 1, stride)]
    maps = np.zeros((n, height, width), np.float32)
    for i, picture in enumerate(x):
        covered = np.repeat(picture[None], len(corners), axis=0)
        for j, (top, left) in enumerate(corners):
            covered[j, top:top + patch, left:left + patch] = picture.mean()
        scores = np.concatenate([picture[None], covered])
        output = model_outputs(model, scores, batch_size)[:, class_index]
        drop = output[0] - output[1:]
        total, count = np.zeros((height, width)), np.zeros((height, width))
        for (top, left), value in zip(corners, drop):
            total[top:top + patch, left:left + patch] += value
            count[top:top + patch, left:left + patch] += 1
        maps[i] = total / np.maximum(count, 1)
    maps = np.maximum(maps, 0)
    top = maps.reshape(n, -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(top > 0, maps / np.where(top > 0, top, 1), 0.0).astype(np.float32)


# ---------------------------------------------------------------- pictures

def overlay(image, heatmap, alpha: float = 0.45, ax=None, title: str | None = None, cmap: str = "jet"):
    """Show a heatmap over the original grey picture; ``alpha`` is how strongly it is tinted (notebook 05)."""
    import matplotlib.pyplot as plt

    image = np.squeeze(np.asarray(image))
    heatmap = np.squeeze(np.asarray(heatmap))
    if image.ndim != 2 or heatmap.shape != image.shape:
        raise RadkitError(f"The picture ({image.shape}) and the heatmap ({heatmap.shape}) should be two 2-D "
                          "arrays of the same size.", "Pass one picture and its heatmap, e.g. images[0], maps[0].")
    if not 0 <= alpha <= 1:
        raise RadkitError(f"alpha={alpha} is not between 0 and 1.", "Use e.g. alpha=0.45 (0: no heatmap, 1: only it).")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else max(1.0, float(image.max())))
    ax.imshow(heatmap, cmap=cmap, alpha=alpha * heatmap / max(float(heatmap.max()), 1e-6), vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_heatmaps(images, heatmaps, titles=None, alpha: float = 0.45, ncols: int = 6, size: float = 2.4,
                  original: bool = True):
    """Show pictures with their heatmaps over them; ``original=True`` puts the plain picture above each one."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    images = images[..., 0] if images.ndim == 4 else images  # model input (N, H, W, 1) or pictures (N, H, W)
    n = len(images)
    titles = list(titles) if titles is not None else [None] * n
    ncols = max(1, min(ncols, n))
    rows_per = 2 if original else 1
    nrows = -(-n // ncols) * rows_per
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(n):
        row, col = (i // ncols) * rows_per, i % ncols
        if original:
            axes[row, col].imshow(images[i], cmap="gray")
            axes[row, col].set_title(titles[i], fontsize=9)
        overlay(images[i], heatmaps[i], alpha, ax=axes[row + rows_per - 1, col],
                title=None if original else titles[i])
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the sanity check

def randomized_copy(model, seed: int = 0):
    """A copy of the model with the same layers but fresh random weights: it has learned nothing."""
    from radkit.config import set_seed

    set_seed(seed)
    copy = _keras().models.clone_model(model)  # clone_model builds new layers with new random weights
    copy.build(model.input_shape)
    return copy


def similarity(maps_a, maps_b) -> float:
    """How alike two sets of heatmaps are: the average Spearman rank correlation, picture by picture (-1..1)."""
    from scipy.stats import spearmanr

    scores = []
    for a, b in zip(np.asarray(maps_a), np.asarray(maps_b)):
        if np.ptp(a) == 0 or np.ptp(b) == 0:  # a flat map ranks nothing: count it as unrelated
            scores.append(0.0)
        else:
            scores.append(float(spearmanr(a.ravel(), b.ravel())[0]))
    return float(np.mean(scores))


def sanity_check(model, images, layer_name: str | None = None, seed: int = 0, show: bool = True) -> dict:
    """The randomised-weights test of Adebayo et al. (2018) (notebook 05).

    A heatmap that explains the model must change when the model's learning is
    wiped out. If the heatmaps of a random copy look the same, the method is
    drawing the picture's edges, not the model's reasoning.
    Returns ``{"similarity", "trained", "random"}``; ``show=True`` draws them side by side.
    """
    trained = gradcam(model, images, layer_name)
    random = gradcam(randomized_copy(model, seed), images, layer_name)
    score = similarity(trained, random)
    if show:
        import matplotlib.pyplot as plt

        x = np.squeeze(to_model_input(images), -1)
        fig, axes = plt.subplots(2, len(x), figsize=(2.4 * len(x), 5), squeeze=False)
        for i in range(len(x)):
            overlay(x[i], trained[i], ax=axes[0, i], title="trained model" if i == 0 else None)
            overlay(x[i], random[i], ax=axes[1, i], title="random weights" if i == 0 else None)
        fig.suptitle(f"Similarity of the heatmaps (Spearman): {score:.2f}  (near 1 would fail the check)")
        fig.tight_layout()
        plt.show()
    return {"similarity": score, "trained": trained, "random": random}


# ---------------------------------------------------------------- the shortcut demo

def marker_mask(shape, size: int | None = None, corner: str = "top-left") -> np.ndarray:
    """Where ``add_marker`` puts its marker: a boolean (H, W) mask of a small square near one corner."""
    height, width = shape[:2]
    size = size or max(3, height // 10)
    margin = max(1, height // 32)
    corners = {"top-left": (margin, margin), "top-right": (margin, width - margin - size),
               "bottom-left": (height - margin - size, margin),
               "bottom-right": (height - margin - size, width - margin - size)}
    if corner not in corners:
        raise RadkitError(f"corner={corner!r} is not one RadKit knows.", f"Use one of {', '.join(corners)}.")
    top, left = corners[corner]
    mask = np.zeros((height, width), bool)
    mask[top:top + size, left:left + size] = True
    return mask


def add_marker(images, labels, label: int = 1, fraction: float = 1.0, size: int | None = None,
               corner: str = "top-left", seed: int = 0):
    """Burn a small bright marker into the films of one label, like a "PORTABLE" tag on ward films (notebook 05).

    Returns ``(marked_images, has_marker)``: a copy of the uint8 pictures, and
    which of them got the marker. ``fraction`` marks only part of that label.
    A model trained on such films can learn "marker means pneumonia" instead of
    the disease: a shortcut.
    """
    images = np.array(images, copy=True)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise RadkitError(f"add_marker expects grey uint8 pictures (N, H, W); got {images.dtype} {images.shape}.",
                          "Pass the pictures as they come from radkit.data, e.g. data.train[0].")
    if len(labels) != len(images):
        raise RadkitError(f"There are {len(images)} pictures but {len(labels)} labels.", "Give one label per picture.")
    rng = np.random.default_rng(seed)
    has_marker = (labels == label) & (rng.random(len(labels)) < fraction)
    mask = marker_mask(images.shape[1:], size, corner)
    images[has_marker] = np.where(mask, 255, images[has_marker])
    return images, has_marker
