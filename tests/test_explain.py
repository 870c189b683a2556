"""Tests for radkit.explain: Grad-CAM both ways, layer choice, occlusion, overlays, the sanity check, the marker."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from radkit import explain, phantoms  # noqa: E402
from radkit.errors import RadkitError  # noqa: E402

SIZE = 32


def _keras():
    import keras

    return keras


def _functional(name="tiny"):
    keras = _keras()
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prediction")(x), name=name)


@pytest.fixture(scope="module")
def marked():
    """Phantom films with a marker on every pneumonia film, and a tiny CNN trained on them (a few seconds)."""
    from radkit.config import set_seed

    films = phantoms.chest_xrays(240, size=SIZE, seed=5)
    images, has_marker = explain.add_marker(films["images"], films["labels"], label=1)
    set_seed(0)
    model = _functional()
    model.compile(optimizer=_keras().optimizers.Adam(3e-3), loss="binary_crossentropy")
    model.fit(images[..., None] / 255.0, films["labels"], epochs=8, batch_size=32, verbose=0)
    return {"images": images, "labels": films["labels"], "has_marker": has_marker, "model": model}


def test_marker_only_where_intended():
    films = phantoms.chest_xrays(40, size=SIZE, seed=1)
    images, has_marker = explain.add_marker(films["images"], films["labels"], label=1, corner="top-right")
    mask = explain.marker_mask(images.shape[1:], corner="top-right")
    assert np.array_equal(has_marker, films["labels"] == 1)
    assert np.all(images[has_marker][:, mask] == 255)
    assert np.array_equal(images[~has_marker], films["images"][~has_marker])  # the others untouched
    assert np.array_equal(images[has_marker][:, ~mask], films["images"][has_marker][:, ~mask])
    assert films["images"][has_marker][:, mask].mean() < 250  # the marker really changed something
    half, _ = explain.add_marker(films["images"], films["labels"], fraction=0.5, seed=0)
    assert 0 < (half != films["images"]).any(axis=(1, 2)).sum() < has_marker.sum()


def test_tf_explain_and_tape_agree(marked):
    x = marked["images"][:6]
    for guided in (False, True):
        a = explain.gradcam(marked["model"], x, method="tf-explain", guided=guided)
        b = explain.gradcam(marked["model"], x, method="tape", guided=guided)
        assert a.shape == (6, SIZE, SIZE) and a.max() == pytest.approx(1.0)
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_gradcam_finds_the_shortcut(marked):
    positives = marked["images"][marked["has_marker"]][:8]
    maps = explain.gradcam(marked["model"], positives)
    mask = explain.marker_mask((SIZE, SIZE))
    near = np.zeros_like(mask)
    near[: SIZE // 4, : SIZE // 4] = True  # the marker's corner, with Grad-CAM's coarse blur around it
    share = maps[:, near].sum() / maps.sum()
    assert share > 3 * near.mean(), f"only {share:.0%} of the heat is in the marker's corner"


def test_sanity_check_detects_randomisation(marked):
    x = marked["images"][marked["has_marker"]][:6]
    result = explain.sanity_check(marked["model"], x, show=False)
    assert result["similarity"] < 0.5
    assert explain.similarity(result["trained"], result["trained"]) == pytest.approx(1.0)  # the check can fail
    copy = explain.randomized_copy(marked["model"])
    assert not np.allclose(copy.get_layer("last_conv").get_weights()[0],
                           marked["model"].get_layer("last_conv").get_weights()[0])


def test_layer_choice():
    keras = _keras()
    assert explain.conv_layer_path(_functional()) == ["last_conv"]
    assert explain.conv_layer_path(_functional(), "conv1") == ["conv1"]
    with pytest.raises(RadkitError, match="no layer named"):
        explain.conv_layer_path(_functional(), "nope")
    seq = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Conv2D(4, 3, name="a"),
                            keras.layers.Conv2D(4, 3, name="b"), keras.layers.GlobalAveragePooling2D(),
                            keras.layers.Dense(1, activation="sigmoid")])
    assert explain.conv_layer_path(seq) == ["b"]


def test_sequential_goes_through_the_tape(marked):
    keras = _keras()
    functional = marked["model"]
    seq = keras.Sequential([keras.Input((SIZE, SIZE, 1))] + [layer for layer in functional.layers[1:]])
    x = marked["images"][:4]
    maps = explain.gradcam(seq, x)  # auto: tf-explain cannot take a Sequential model, the tape can
    np.testing.assert_allclose(maps, explain.gradcam(functional, x, method="tf-explain"), atol=1e-5)
    with pytest.raises(RadkitError, match="tf-explain"):
        explain.gradcam(seq, x, method="tf-explain")


def test_nested_base_goes_through_the_tape():
    keras = _keras()
    base = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Conv2D(4, 3, padding="same", name="inner")],
                            name="base")
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    nested = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    assert explain.conv_layer_path(nested) == ["base", "inner"]
    images = phantoms.chest_xrays(3, size=SIZE)["images"]
    maps = explain.gradcam(nested, images)
    assert maps.shape == (3, SIZE, SIZE) and np.all((maps >= 0) & (maps <= 1))


def test_model_without_convolution_is_refused():
    keras = _keras()
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Flatten()(keras.layers.Rescaling(1.0)(inputs))
    dense = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    with pytest.raises(RadkitError, match="needs a convolutional layer") as error:
        explain.gradcam(dense, np.zeros((1, SIZE, SIZE), np.uint8))
    assert "occlusion" in error.value.fix
    assert explain.occlusion(dense, phantoms.chest_xrays(1, size=SIZE)["images"], patch=8, stride=8).shape == \
        (1, SIZE, SIZE)


def test_occlusion_finds_the_marker(marked):
    x = marked["images"][marked["has_marker"]][:2]
    maps = explain.occlusion(marked["model"], x, patch=6, stride=3)
    mask = explain.marker_mask((SIZE, SIZE))
    assert maps.shape == (2, SIZE, SIZE) and maps.max() == pytest.approx(1.0)
    assert maps[:, mask].mean() > maps.mean()
    with pytest.raises(RadkitError, match="patch"):
        explain.occlusion(marked["model"], x, patch=100)


def test_overlay_and_grid():
    image = phantoms.chest_xray(SIZE)["image"]
    ax = explain.overlay(image, np.linspace(0, 1, SIZE * SIZE).reshape(SIZE, SIZE), alpha=0.5, title="t")
    assert len(ax.images) == 2
    with pytest.raises(RadkitError, match="same size"):
        explain.overlay(image, np.zeros((4, 4)))
    fig = explain.show_heatmaps(np.stack([image] * 3), np.zeros((3, SIZE, SIZE)), titles=list("abc"))
    assert sum(len(a.images) for a in fig.axes) == 3 + 3 * 2


# Bug caught: a CAM built from the wrong layer or the wrong class's weights. For a model that ends in global
# average pooling then a dense layer with sigmoid outputs, Grad-CAM on the pooled maps weighs each map by its
# dense weight (times the same positive factor for all maps), so after scaling to 0..1 the two maps must be
# the same. (With softmax, Grad-CAM mixes in the other classes' weights; CAM does not.)
def test_cam_equals_gradcam_on_the_pooled_maps():
    import keras

    from radkit import models, phantoms

    keras.utils.set_random_seed(0)
    model = models.small_cnn((32, 32, 1), n_outputs=3, multi_label=True)
    films = phantoms.chest_xrays(3, size=32, seed=2)["images"]
    for class_index in range(3):
        cam = explain.cam(model, films, class_index=class_index)
        grad = explain.gradcam(model, films, layer_name="bn4", method="tape", class_index=class_index)
        assert cam.shape == (3, 32, 32) and np.abs(cam - grad).max() < 1e-4
    assert np.abs(explain.cam(model, films, 0) - explain.cam(model, films, 1)).max() > 0.1
