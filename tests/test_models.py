"""Tests for radkit.models: shapes, layer names, flat transfer models, offline weights, saving."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import RadkitError, explain, models, registry, set_seed

keras = pytest.importorskip("keras")


def test_small_cnn_shapes_and_names():
    model = models.small_cnn((32, 32, 1))
    names = [layer.name for layer in model.layers]
    assert names[0] == "image" and names[-1] == "prediction"
    assert {"conv1", "conv2", "conv3", "last_conv"} <= set(names)
    assert isinstance(model.get_layer("last_conv"), keras.layers.Conv2D)
    assert not any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers[names.index("last_conv") + 1:])
    out = model.predict(np.zeros((2, 32, 32, 1), np.float32), verbose=0)
    assert out.shape == (2, 1) and np.all((out >= 0) & (out <= 1))


def test_small_cnn_has_no_augmentation_layers():
    """Augmentation belongs to training, so the model exports cleanly to the browser."""
    model = models.small_cnn()
    allowed = (keras.layers.InputLayer, keras.layers.Conv2D, keras.layers.BatchNormalization,
               keras.layers.MaxPooling2D, keras.layers.GlobalAveragePooling2D, keras.layers.Dropout,
               keras.layers.Dense)
    assert all(isinstance(layer, allowed) for layer in model.layers)


def test_small_cnn_several_outputs():
    x = np.random.default_rng(0).random((3, 32, 32, 1)).astype(np.float32)
    softmax = models.small_cnn((32, 32, 1), n_outputs=3).predict(x, verbose=0)
    assert softmax.shape == (3, 3) and np.allclose(softmax.sum(axis=1), 1, atol=1e-5)
    multi = models.small_cnn((32, 32, 1), n_outputs=3, multi_label=True).predict(x, verbose=0)
    assert not np.allclose(multi.sum(axis=1), 1, atol=1e-3)  # independent findings need not add up to 1


def _no_download(*args, **kwargs):
    raise Exception("URL fetch failure on https://example.invalid/weights.h5: None -- no internet")


@pytest.fixture
def offline_weights(monkeypatch, tmp_path):
    """No weights file anywhere and every download failing, as on a laptop without internet."""
    from radkit import download

    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)  # hide the shared weights file
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def no_network(url, md5, folder, filename, progress=True):
        raise RadkitError(f"Could not download {filename}: the internet could not be reached.", "")

    monkeypatch.setattr(download, "download", no_network)
    import keras.src.applications.mobilenet_v2 as mobilenet_v2

    monkeypatch.setattr(mobilenet_v2.file_utils, "get_file", _no_download)
    import keras.src.applications.efficientnet as efficientnet

    monkeypatch.setattr(efficientnet.file_utils, "get_file", _no_download)


def test_transfer_model_offline_says_random_weights(offline_weights, capsys):
    model = models.transfer_model((96, 96, 1), base="mobilenetv2")
    said = capsys.readouterr().out
    assert "RANDOM weights" in said and "transfer learning will NOT show" in said
    assert model.name == "mobilenetv2_random"


# Catches: transfer_model ignoring the checked weights file (the notebook-04 lesson then shows random weights),
# or loading it into the wrong layers: the first convolution must hold exactly the file's numbers, at 96 px.
def test_transfer_model_loads_the_shared_imagenet_file(shared_data, monkeypatch, tmp_path, capsys):
    import h5py

    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path))
    monkeypatch.delenv("RADKIT_OFFLINE", raising=False)
    model = models.transfer_model((96, 96, 1), base="mobilenetv2")
    assert models.is_pretrained(model) and "RANDOM" not in capsys.readouterr().out
    with h5py.File(shared_data / "keras_weights" / registry.get("keras_weights").file("mobilenetv2_0.35").name) as f:
        kernel = f["Conv1"]["Conv1"]["kernel:0"][()]
    assert np.array_equal(model.get_layer("Conv1").kernel.numpy(), kernel)


def test_transfer_model_is_flat_and_frozen(offline_weights):
    model = models.transfer_model((96, 96, 1), base="mobilenetv2")
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # no nested base
    for name in ("grey_to_rgb", "scale_for_base", "Conv1", "out_relu", "prediction"):
        model.get_layer(name)  # reachable by name, as Grad-CAM needs
    assert explain.conv_layer_path(model) == ["Conv_1"]  # flat: Grad-CAM reaches the base's last convolution
    models.set_trainable(model, False, freeze_batchnorm=True)
    assert models.count_params(model, trainable_only=True) == 1280 + 1  # only the new last layer learns
    out = model.predict(np.random.default_rng(0).random((2, 96, 96, 1)).astype(np.float32), verbose=0)
    assert out.shape == (2, 1)


def test_grey_to_rgb_and_scaling(offline_weights):
    model = models.transfer_model((96, 96, 1), base="mobilenetv2")
    probe = keras.Model(model.input, model.get_layer("scale_for_base").output)
    x = np.linspace(0, 1, 96 * 96, dtype=np.float32).reshape(1, 96, 96, 1)
    y = probe.predict(x, verbose=0)
    assert y.shape == (1, 96, 96, 3)
    assert np.allclose(y[..., 0], y[..., 2]) and np.isclose(y.min(), -1) and np.isclose(y.max(), 1)


def test_efficientnet_offline(offline_weights):
    model = models.transfer_model((32, 32, 1), base="efficientnetb0")
    assert model.name == "efficientnetb0_random"
    assert explain.conv_layer_path(model) == ["top_conv"]


def test_set_trainable_fine_tune_keeps_batchnorm_frozen(offline_weights):
    model = models.transfer_model((96, 96, 1), base="mobilenetv2")
    models.set_trainable(model, False, freeze_batchnorm=True)
    head_only = models.count_params(model, trainable_only=True)
    assert head_only == 1280 + 1
    models.set_trainable(model, True, fine_tune_from="block_16_expand", freeze_batchnorm=True)
    base = models.base_layers(model)
    start = [layer.name for layer in base].index("block_16_expand")
    assert all(not layer.trainable for layer in base[:start])
    assert any(layer.trainable for layer in base[start:])
    assert all(not layer.trainable for layer in base if isinstance(layer, keras.layers.BatchNormalization))
    assert models.count_params(model, trainable_only=True) > head_only
    with pytest.raises(RadkitError, match="no layer named"):
        models.set_trainable(model, True, fine_tune_from="no_such_layer")


def test_random_weights_keep_batchnorm_learning(offline_weights):
    """Random weights have no pretrained averages to protect, and need normalising to pass a signal."""
    model = models.transfer_model((96, 96, 1), base="mobilenetv2")
    assert not models.is_pretrained(model)
    batchnorm = [layer for layer in models.base_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    assert batchnorm and all(layer.trainable for layer in batchnorm)
    convs = [layer for layer in models.base_layers(model) if isinstance(layer, keras.layers.Conv2D)]
    assert not any(layer.trainable for layer in convs)


def test_transfer_model_rejects_unknown_base_and_colour_input():
    with pytest.raises(RadkitError, match="mobilenetv2"):
        models.transfer_model(base="resnet9000", weights=None)
    with pytest.raises(RadkitError, match="grey"):
        models.transfer_model((64, 64, 3), weights=None)


def test_unet_shapes():
    model = models.unet((64, 64, 1))
    out = model.predict(np.zeros((1, 64, 64, 1), np.float32), verbose=0)
    assert out.shape == (1, 64, 64, 1)
    assert 300_000 < models.count_params(model) < 700_000
    assert models.unet((32, 32, 1), n_classes=3).output_shape == (None, 32, 32, 3)


def test_save_and_load_round_trip(tmp_path):
    set_seed(0)
    model = models.small_cnn((32, 32, 1))
    x = np.random.default_rng(1).random((4, 32, 32, 1)).astype(np.float32)
    path = models.save_model(model, tmp_path / "sub" / "my_model.keras")
    again = models.load_model(path)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_save_and_load_clear_errors(tmp_path):
    model = models.small_cnn((32, 32, 1))
    with pytest.raises(RadkitError, match=r"\.keras"):
        models.save_model(model, tmp_path / "model.h5")
    with pytest.raises(RadkitError, match="no saved model"):
        models.load_model(tmp_path / "missing.keras")


# Catches a shipped checkpoint that is untrained, degenerate (calls every film one label) or trained at
# another size: notebooks 03, 05 and 09 would then teach with a model that has learned nothing.
def test_shipped_course_classifier_has_learned(shared_data, data_dir, capsys):
    from radkit import data, evaluate

    model = models.course_classifier(source="shipped")
    assert "comes with radkit" in capsys.readouterr().out
    assert model.input_shape == (None, 28, 28, 1)
    xrays = data.load_medmnist(shared_data / "pneumoniamnist" / "pneumoniamnist.npz")
    images, labels = xrays.test
    probs = model.predict(data.to_model_input(images), verbose=0)[:, 0]
    m = evaluate.clinical_metrics(labels, probs, 0.5)
    assert evaluate.auc(labels, probs) > 0.9
    assert m["sensitivity"] > 0.8 and m["specificity"] > 0.7


# Catches course_classifier ignoring the learner's own model from notebook 02 (or preferring it when told not
# to), and a checkpoint that grew past what a package should carry.
def test_course_classifier_prefers_the_model_saved_in_notebook_02(data_dir, capsys):
    assert models.SHIPPED_CLASSIFIER.stat().st_size < 1_000_000
    assert (models.SHIPPED_CLASSIFIER.parent / "README.md").is_file()
    shipped = models.course_classifier()
    assert "not saved your own" in capsys.readouterr().out
    mine = models.small_cnn((28, 28, 1), filters=(4, 8), name="mine")
    models.save_model(mine, models.saved_classifier_path())
    assert models.course_classifier().name == "mine"
    assert "you trained and saved in notebook 02" in capsys.readouterr().out
    assert models.course_classifier(source="shipped").name == shipped.name != "mine"
    with pytest.raises(RadkitError):
        models.course_classifier(source="elsewhere")


# Catches a damaged saved file stopping the lesson (auto falls back) or passing silently (saved insists).
def test_course_classifier_damaged_saved_file(data_dir, capsys):
    path = models.saved_classifier_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a model")
    assert models.course_classifier().name != "mine"
    assert "could not be read" in capsys.readouterr().out
    with pytest.raises(RadkitError):
        models.course_classifier(source="saved")


# Bug caught: save_model replaced any file at the path (a colleague's model, or anything named .keras), and a
# crash mid-save left half a file where the model was.
def test_save_model_never_overwrites_a_model_radkit_did_not_save(tmp_path):
    model = models.small_cnn((32, 32, 1))
    theirs = tmp_path / "colleague.keras"
    model.save(theirs)  # saved by Keras directly, not by radkit
    before = theirs.read_bytes()
    with pytest.raises(RadkitError, match="RadKit did not write it"):
        models.save_model(model, theirs)
    assert theirs.read_bytes() == before
    ours = models.save_model(model, tmp_path / "mine.keras")
    models.save_model(model, ours)  # radkit's own file: replaced, as notebook 02 does on a re-run
    assert models.load_model(ours).count_params() == model.count_params()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


# Catches notebook 02's "look inside" drifting from radkit's small_cnn (a layer added, a width or a dropout
# changed on one side only), and the written-out cell growing past what a beginner reads at a glance.
def test_notebook_02_written_out_network_is_small_cnn_layer_for_layer():
    import json
    from pathlib import Path

    notebook = Path(__file__).resolve().parent.parent / "solutions" / "02_first_classifier.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    (source,) = [c for c in cells if "written_out = keras.Sequential(" in c]
    assert len(source.strip().splitlines()) <= 15
    namespace = {"SIZE": 28}
    exec(source, namespace)  # noqa: S102 - the notebook's own cell, run as the learner runs it
    written_out, ours = namespace["written_out"], models.small_cnn((28, 28, 1))
    assert models.layer_table(written_out) == models.layer_table(ours)
    assert [type(layer).__name__ for layer in written_out.layers][-3:] == ["GlobalAveragePooling2D", "Dropout", "Dense"]
    dropouts = [layer.rate for model in (written_out, ours) for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == [0.3, 0.3]
    momenta = {layer.momentum for model in (written_out, ours) for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.9}


# Catches layer_table missing a difference that matters: a wider layer, a missing layer, another kind of layer.
def test_layer_table_tells_different_networks_apart():
    ours = models.layer_table(models.small_cnn((28, 28, 1)))
    assert ours[0] == ("Conv2D", (28, 28, 16), 160) and len(ours) == 14
    assert models.layer_table(models.small_cnn((28, 28, 1), filters=(32, 32, 64, 128))) != ours
    assert models.layer_table(models.small_cnn((28, 28, 1), filters=(16, 32, 64))) != ours
    assert models.layer_table(models.small_cnn((28, 28, 1), n_outputs=2)) != ours
