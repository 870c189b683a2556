"""Tests for radkit.deploy without a browser: the TF.js files, metadata, preprocessing, site and server.

The browser itself is tested in test_browser.py.
"""

from __future__ import annotations

import json
import re
import urllib.request

import keras
import numpy as np
import pytest
from PIL import Image

from radkit import deploy, models
from radkit.errors import RadkitError


@pytest.fixture(scope="module")
def cnn():
    keras.utils.set_random_seed(0)
    return models.small_cnn((64, 64, 1))


def _manifest(folder):
    model_json = json.loads((folder / "model.json").read_text())
    return model_json, model_json["weightsManifest"][0]


def test_export_writes_a_layers_model_tfjs_can_read(cnn, tmp_path):
    folder = deploy.export_tfjs(cnn, tmp_path / "cnn", label_names=["normal", "pneumonia"])
    model_json, manifest = _manifest(folder)
    assert model_json["format"] == "layers-model"
    config = model_json["modelTopology"]["config"]
    first = config["layers"][0]
    assert first["class_name"] == "InputLayer" and first["config"]["batch_input_shape"] == [None, 64, 64, 1]
    # Every inbound node is Keras 2 style: [[layer name, node, tensor, kwargs], ...], naming a layer that exists.
    names = {layer["name"] for layer in config["layers"]}
    for layer in config["layers"]:
        for node in layer["inbound_nodes"]:
            assert all(ref[0] in names and len(ref) == 4 for ref in node)
    assert config["input_layers"] == [["image", 0, 0]] and config["output_layers"] == [["prediction", 0, 0]]
    # One weight entry per Keras variable, named layer/weight, bytes adding up to the parameter count.
    specs = manifest["weights"]
    assert len(specs) == len(cnn.weights)
    assert {s["name"] for s in specs} == {w.path for w in cnn.weights}
    data = b"".join((folder / p).read_bytes() for p in manifest["paths"])
    assert len(data) == 4 * cnn.count_params()
    first_kernel = np.frombuffer(data[:4 * int(np.prod(specs[0]["shape"]))], "<f4").reshape(specs[0]["shape"])
    assert np.array_equal(first_kernel, cnn.get_layer(specs[0]["name"].split("/")[0]).weights[0].numpy())


def test_export_records_labels_and_preprocessing(cnn, tmp_path):
    meta = json.loads((deploy.export_tfjs(cnn, tmp_path / "m", label_names=["normal", "pneumonia"]) / "radkit.json").read_text())
    assert meta["labels"] == ["normal", "pneumonia"] and meta["task"] == "classification"
    assert meta["output"] == "sigmoid" and meta["parameters"] == cnn.count_params()
    assert meta["input"]["height"] == 64 and meta["input"]["channels"] == 1
    assert meta["input"]["pixel_divisor"] == 255 and meta["input"]["pixel_offset"] == 0
    with pytest.raises(RadkitError, match="2 label names"):
        deploy.export_tfjs(cnn, tmp_path / "bad", label_names=["a", "b", "c"])
    softmax = models.small_cnn((32, 32, 1), n_outputs=3, filters=(4,))
    meta = json.loads((deploy.export_tfjs(softmax, tmp_path / "s") / "radkit.json").read_text())
    assert meta["output"] == "softmax" and meta["labels"] == ["class 0", "class 1", "class 2"]
    seg = json.loads((deploy.export_tfjs(models.unet((32, 32, 1), base_filters=4, depth=1), tmp_path / "u")
                      / "radkit.json").read_text())
    assert seg["task"] == "segmentation"


def test_float16_halves_the_size(tmp_path):
    model = models.transfer_model((64, 64, 1), weights=None)
    full = deploy.folder_size(deploy.export_tfjs(model, tmp_path / "f32"))
    half = deploy.folder_size(deploy.export_tfjs(model, tmp_path / "f16", float16=True))
    weights_full = sum(p.stat().st_size for p in (tmp_path / "f32").glob("*.bin"))
    weights_half = sum(p.stat().st_size for p in (tmp_path / "f16").glob("*.bin"))
    assert weights_half * 2 == weights_full
    assert half < 0.6 * full
    spec = _manifest(tmp_path / "f16")[1]["weights"][0]
    assert spec["quantization"] == {"dtype": "float16"}


def test_transfer_models_export_with_tfjs_names(tmp_path):
    mobile = models.transfer_model((64, 64, 1), base="mobilenetv2", weights=None)
    specs = _manifest(deploy.export_tfjs(mobile, tmp_path / "mn"))[1]["weights"]
    depthwise = {layer.name for layer in mobile.layers if isinstance(layer, keras.layers.DepthwiseConv2D)}
    kernels = [s["name"] for s in specs if s["name"].split("/")[0] in depthwise and "kernel" in s["name"]]
    assert len(kernels) == len(depthwise) > 0 and all(n.endswith("/depthwise_kernel") for n in kernels)
    efficient = models.transfer_model((64, 64, 1), base="efficientnetb0", weights=None)
    config = _manifest(deploy.export_tfjs(efficient, tmp_path / "ef"))[0]["modelTopology"]["config"]
    classes = {layer["class_name"] for layer in config["layers"]}
    assert "Normalization" not in classes  # TF.js has none: rewritten as Rescaling


def test_layer_rewrites_keep_the_arithmetic(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.RandomFlip()(inputs)  # inactive at inference: left out
    norm = keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    x = norm(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    config = _manifest(deploy.export_tfjs(model, tmp_path / "z"))[0]["modelTopology"]["config"]
    by_name = {layer["name"]: layer for layer in config["layers"]}
    assert not any(layer["class_name"] == "RandomFlip" for layer in config["layers"])
    rescale = by_name[norm.name]
    assert rescale["class_name"] == "Rescaling"
    assert np.allclose(rescale["config"]["scale"], [0.5, 1.0, 2.0]) and np.allclose(rescale["config"]["offset"], [-0.5, -2.0, -6.0])
    assert rescale["inbound_nodes"] == [[["input_layer", 0, 0, {}]]] or rescale["inbound_nodes"][0][0][0] == model.layers[0].name
    assert by_name["gap"]["class_name"] == "Reshape" and by_name["gap"]["config"]["target_shape"] == [1, 1, 3]


def test_unsupported_layer_is_refused_by_name(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Lambda(lambda t: t * 2, name="my_doubler")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
    with pytest.raises(RadkitError, match=r"'my_doubler' \(Lambda\)"):
        deploy.export_tfjs(model, tmp_path / "l")
    y = keras.ops.sin(inputs)  # a Keras operation, not a layer
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(y)))
    with pytest.raises(RadkitError, match="operation, not a layer"):
        deploy.export_tfjs(model, tmp_path / "o")
    assert not (tmp_path / "l" / "model.json").exists()
    z = keras.layers.UpSampling2D(interpolation="bilinear", name="smooth_up")(inputs)  # computed differently in TF.js
    with pytest.raises(RadkitError, match="'smooth_up' \\(UpSampling2D\\).*nearest"):
        deploy.export_tfjs(keras.Model(inputs, z), tmp_path / "u")


def test_sequential_models_are_exported_too(tmp_path):
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    folder = deploy.export_tfjs(model, tmp_path / "seq")
    assert len(_manifest(folder)[1]["weights"]) == 4


def test_preprocess_matches_pillow_and_to_model_input(cnn, tmp_path):
    from radkit.data import to_model_input

    folder = deploy.export_tfjs(cnn, tmp_path / "m")
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert np.array_equal(deploy.preprocess(grey, folder), to_model_input(grey))
    # A wide colour photo: grey, centre crop, Pillow's bilinear resize, then /255.
    rgb = rng.integers(0, 256, (120, 300, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    grey = (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)
    crop = grey[:, 90:210]
    expected = np.asarray(Image.fromarray(crop, mode="F").resize((64, 64), Image.BILINEAR)) / np.float32(255)
    got = deploy.preprocess(path, folder)
    assert got.shape == (1, 64, 64, 1)
    assert np.abs(got[0, ..., 0] - expected).max() < 1e-5
    with pytest.raises(RadkitError, match="not an image"):
        (tmp_path / "notes.png").write_text("not a picture")
        deploy.preprocess(tmp_path / "notes.png", folder)


def test_build_webapp_makes_a_private_self_contained_site(cnn, tmp_path):
    folder = deploy.export_tfjs(cnn, tmp_path / "m", label_names=["normal", "pneumonia"])
    with pytest.raises(RadkitError, match="labels the model does not have"):
        deploy.build_webapp(folder, tmp_path / "bad", learn_more={"tumour": "https://example.org"})
    site = deploy.build_webapp(folder, tmp_path / "site", title="Pneumonia <demo>",
                               learn_more={"pneumonia": "https://radiopaedia.org/articles/pneumonia"})
    for name in ("index.html", "app.js", "app.css", "app.json", "model/model.json", "model/radkit.json",
                 "vendor/tf.es2017.min.js", "vendor/tfjs-backend-wasm-simd.wasm"):
        assert (site / name).is_file(), name
    html = (site / "index.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "'unsafe-eval'" not in csp
    assert "Pneumonia &lt;demo&gt;" in html
    # The page's own code names no other site; every script and style is a local file.
    assert not re.search(r"https?://", (site / "app.js").read_text())
    assert all(not src.startswith(("http", "//")) for src in re.findall(r'(?:src|href)="([^"]+)"', html))
    assert json.loads((site / "app.json").read_text())["learn_more"] == {"pneumonia": "https://radiopaedia.org/articles/pneumonia"}
    # Bug caught: a build_webapp that drops the caller's notice (the template's fixed "Not for diagnosis" text
    # would still be there). The page shows app.json's notice (the browser test checks it on screen).
    notice = "Teaching demo 7431: never use on patients."
    site = deploy.build_webapp(folder, tmp_path / "site", notice=notice)
    assert json.loads((site / "app.json").read_text())["notice"] == notice
    assert json.loads((deploy.build_webapp(folder, tmp_path / "site") / "app.json").read_text())["notice"] \
        == deploy.DEFAULT_NOTICE


def test_serve_shows_the_site_on_this_computer_only(cnn, tmp_path):
    site = deploy.build_webapp(deploy.export_tfjs(cnn, tmp_path / "m"), tmp_path / "site")
    with deploy.serve(site) as server:
        # Bug caught: a server bound to every network interface (0.0.0.0) still has a 127.0.0.1 URL; the
        # socket's own address is what decides who can connect.
        assert server._httpd.socket.getsockname()[0] == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server._httpd.socket.getsockname()[1]}/"
        with urllib.request.urlopen(server.url + "vendor/tfjs-backend-wasm-simd.wasm") as response:
            assert response.headers["Content-Type"] == "application/wasm"
        with urllib.request.urlopen(server.url) as response:
            assert b"Content-Security-Policy" in response.read()
    with pytest.raises(RadkitError, match="no index.html"):
        deploy.serve(tmp_path)


# ---------------------------------------------------------------- radkit never deletes a file it did not make

# Bug caught: build_webapp deleted the site folder first (shutil.rmtree), so pointed at a project folder it
# deleted the user's notebook and CSV, and pointed at the model's parent it deleted the exported model.
def test_build_webapp_never_deletes_a_folder_it_did_not_make(cnn, tmp_path):
    exported = deploy.export_tfjs(cnn, tmp_path / "export" / "model")
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "analysis.ipynb").write_text('{"cells": []}')
    (project / "patients.csv").write_text("id,label\n1,0\n")
    with pytest.raises(RadkitError, match="not made by build_webapp") as error:
        deploy.build_webapp(exported, project)
    assert "new folder name" in str(error.value) and str(tmp_path) not in str(error.value)
    assert sorted(p.name for p in project.iterdir()) == ["analysis.ipynb", "patients.csv"]
    assert (project / "patients.csv").read_text() == "id,label\n1,0\n"
    for overlapping in (tmp_path / "export", exported, exported / "site"):
        with pytest.raises(RadkitError, match="overlap"):
            deploy.build_webapp(exported, overlapping)
        assert (exported / "model.json").is_file() and (exported / "radkit.json").is_file()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(RadkitError, match="is a file"):
        deploy.build_webapp(exported, a_file)
    assert a_file.read_text() == "mine"


# Bug caught: the marker alone would let a rebuild delete a file the user later saved inside the site.
def test_build_webapp_replaces_its_own_site_but_not_files_added_to_it(cnn, tmp_path):
    exported = deploy.export_tfjs(cnn, tmp_path / "model")
    site = deploy.build_webapp(exported, tmp_path / "site", title="first")
    assert (site / deploy.SITE_MARKER).is_file()
    (site / "model" / "stale.bin").write_bytes(b"from an older build")  # inside radkit's own sub-folder
    site = deploy.build_webapp(exported, tmp_path / "site", title="second")
    assert json.loads((site / "app.json").read_text())["title"] == "second"
    assert not (site / "model" / "stale.bin").exists()
    (site / "my_report.docx").write_text("the user's own file")
    with pytest.raises(RadkitError, match="did not put there"):
        deploy.build_webapp(exported, site)
    assert (site / "my_report.docx").read_text() == "the user's own file"
    # A site built before the marker existed (exactly build_webapp's files) is still recognised.
    (site / "my_report.docx").unlink()
    (site / deploy.SITE_MARKER).unlink()
    assert deploy.build_webapp(exported, site).is_dir()


# Bug caught: export_tfjs overwrote model.json / weight files in a folder that held someone else's model.
def test_export_never_overwrites_model_files_it_did_not_write(cnn, tmp_path):
    theirs = tmp_path / "their_model"
    theirs.mkdir()
    (theirs / "model.json").write_text('{"format": "layers-model", "convertedBy": "TensorFlow.js Converter"}')
    (theirs / "group1-shard1of1.bin").write_bytes(b"their weights")
    with pytest.raises(RadkitError, match="radkit did not write"):
        deploy.export_tfjs(cnn, theirs)
    assert (theirs / "group1-shard1of1.bin").read_bytes() == b"their weights"
    # An export radkit made can be redone, and an unrelated file beside it is left alone.
    ours = deploy.export_tfjs(cnn, tmp_path / "ours")
    (ours / "README.txt").write_text("notes")
    deploy.export_tfjs(cnn, ours)
    assert (ours / "README.txt").read_text() == "notes"


# Bugs caught: a window with no width accepted (the page would divide by zero), a box model given several
# label names it cannot use, and a transfer model (pooling, dropout, dense) exported without what the
# page's heatmap needs, or the DICOM reader left out of the site.
def test_app_2_metadata_window_box_and_heatmap(cnn, tmp_path):
    with pytest.raises(RadkitError, match="positive width"):
        deploy.export_tfjs(cnn, tmp_path / "bad", window=(40, 0))
    box = models.box_regressor((64, 64, 1))
    with pytest.raises(RadkitError, match="finds one thing"):
        deploy.export_tfjs(box, tmp_path / "box", label_names=["heart", "lungs"])
    transfer = models.transfer_model((96, 96, 1), base="mobilenetv2", weights=None, alpha=0.35)
    meta = json.loads((deploy.export_tfjs(transfer, tmp_path / "mnv2") / "radkit.json").read_text())
    assert meta["cam"]["dense"] == "prediction"
    assert meta["cam"]["features"] == transfer.get_layer("pool").input._keras_history[0].name
    site = deploy.build_webapp(tmp_path / "mnv2", tmp_path / "site")
    assert (site / "dicom.js").is_file() and (site / "vendor" / "dicomParser.min.js").is_file()
    assert 'src="vendor/dicomParser.min.js"' in (site / "index.html").read_text()
