"""The web app in a real browser: Debian's Chromium, headless, driven by playwright-core.

For each course model the browser must give the same probabilities as Keras (within 1e-4),
the page must ask for nothing outside its own origin, and a bad file must get a friendly
message. Set-up on a fresh machine: `npm ci` in the project folder and
`apt-get install -y chromium` (Debian/Ubuntu). A screenshot is saved in artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import keras
import numpy as np
import pytest
from PIL import Image

from radkit import deploy, models, phantoms

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"

if deploy.browser_missing():
    pytest.skip(f"cannot drive a headless browser: {deploy.browser_missing()}", allow_module_level=True)

MODELS = {
    "small_cnn": lambda: models.small_cnn((64, 64, 1)),
    "mobilenetv2": lambda: models.transfer_model((96, 96, 1), base="mobilenetv2", weights=None, alpha=0.35),
    "efficientnetb0": lambda: models.transfer_model((96, 96, 1), base="efficientnetb0", weights=None),
    "unet": lambda: models.unet((128, 128, 1)),
}


def _with_learned_statistics(model, seed=7):
    """Random weights, but batch-norm averages measured on phantom films, as training would leave them.

    With the initial averages (0 and 1) a random transfer model's output hardly depends on its input,
    and then an equality test could not fail.
    """
    _, h, w, _ = model.input_shape
    batch = (phantoms.chest_xrays(8, size=h, seed=seed)["images"][..., None] / 255).astype(np.float32)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(layer.momentum, layer.trainable) for layer in norms]
    for layer in norms:
        layer.momentum, layer.trainable = 0.0, True  # one training-mode pass sets the averages
    model(batch, training=True)
    for layer, (momentum, trainable) in zip(norms, saved):
        layer.momentum, layer.trainable = momentum, trainable
    return model


def _inputs(model):
    """Fixed inputs: two phantom chest films and random noise, shaped for the model."""
    _, h, w, _ = model.input_shape
    films = phantoms.chest_xrays(2, size=h, seed=3)["images"] if h == w else None
    noise = np.random.default_rng(1).random((1, h, w, 1), dtype=np.float32)
    inputs = {"noise": noise}
    for i, film in enumerate(films):
        inputs[f"phantom{i}"] = (film.astype(np.float32) / 255)[None, ..., None]
    return inputs


@pytest.fixture(scope="module", params=list(MODELS))
def run(request, tmp_path_factory):
    """Export one model, build its site, serve it and run the fixed inputs in Chromium."""
    keras.utils.set_random_seed(0)
    model = _with_learned_statistics(MODELS[request.param]())
    folder = tmp_path_factory.mktemp(request.param)
    labels = None if request.param == "unet" else ["normal", "pneumonia"]
    site = deploy.build_webapp(deploy.export_tfjs(model, folder / "model", label_names=labels), folder / "site",
                               learn_more=None if labels is None else {"pneumonia": "https://radiopaedia.org/articles/pneumonia"})
    inputs = _inputs(model)
    with deploy.serve(site) as server:
        report = deploy.try_in_browser(server.url, inputs=inputs)
    return {"name": request.param, "model": model, "inputs": inputs, "report": report, "url": server.url}


def test_browser_gives_the_same_probabilities_as_keras(run):
    report = run["report"]
    assert report["backend"] == "wasm"
    outputs = {}
    for name, x in run["inputs"].items():
        expected = run["model"].predict(x, verbose=0)
        got = report["outputs"][name]
        assert got.shape == expected.shape, name
        assert np.abs(got - expected).max() <= 1e-4, f"{run['name']} {name}: max difference {np.abs(got - expected).max()}"
        outputs[name] = expected
    # The check can fail: different inputs give different outputs.
    assert np.abs(outputs["noise"] - outputs["phantom0"]).max() > 1e-4


def test_page_asks_for_nothing_outside_its_own_origin(run):
    report = run["report"]
    origin = urlparse(run["url"])
    assert report["requests"], "no requests were recorded"
    for url in report["requests"]:
        parsed = urlparse(url)
        assert (parsed.scheme, parsed.hostname, parsed.port) == ("http", "127.0.0.1", origin.port), url
    assert report["blocked"] == []
    assert report["csp"] == [], f"Content-Security-Policy violations: {report['csp']}"
    assert report["errors"] == []


# The caller's own notice, distinct from the page template's fixed "Not for diagnosis." heading.
NOTICE = "Not for diagnosis: teaching model 5812, trained on 28 px films only."


@pytest.fixture(scope="module")
def cnn_site(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = _with_learned_statistics(models.small_cnn((64, 64, 1)))
    folder = tmp_path_factory.mktemp("cnn_files")
    exported = deploy.export_tfjs(model, folder / "model", label_names=["normal", "pneumonia"])
    site = deploy.build_webapp(exported, folder / "site", title="Pneumonia check (test)", notice=NOTICE,
                               learn_more={"pneumonia": "https://radiopaedia.org/articles/pneumonia"})
    return model, exported, site, folder


def test_an_image_file_is_prepared_and_predicted_as_in_python(cnn_site):
    model, exported, site, folder = cnn_site
    film = phantoms.chest_xray(size=300, pneumonia=True, seed=5)["image"]
    wide = np.pad(film, ((0, 0), (40, 40)), constant_values=10)          # not square: the centre is cropped
    rgb = np.stack([wide, np.clip(wide.astype(int) + 7, 0, 255), wide], axis=-1).astype(np.uint8)
    path = folder / "film.png"
    Image.fromarray(rgb).save(path)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "webapp_after_prediction.png"
    with deploy.serve(site) as server:
        report = deploy.try_in_browser(server.url, files=[path], screenshot=screenshot)
    result = report["files"][0]
    assert result["ok"], result
    expected_input = deploy.preprocess(path, exported)
    got_input = np.asarray(result["input"], np.float32).reshape(expected_input.shape)
    assert np.abs(got_input - expected_input).max() < 1e-5
    expected = float(model.predict(expected_input, verbose=0)[0, 0])
    shown = {item["label"]: item["p"] for item in result["ranked"]}
    assert abs(shown["pneumonia"] - expected) <= 1e-4 and abs(shown["normal"] - (1 - expected)) <= 1e-4
    text = result["page_text"]
    # Bug caught: a page that shows only its template text and drops the caller's notice (the old check
    # looked for "Not for diagnosis", which the template always holds).
    assert "teaching model 5812, trained on 28 px films only." in text and "%" in text
    if expected > 0.5:
        assert "Learn more about pneumonia" in text
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    assert report["blocked"] == [] and report["errors"] == []


def test_a_corrupt_or_non_image_file_gets_a_friendly_message(cnn_site):
    _, _, site, folder = cnn_site
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    notes = folder / "report.txt"
    notes.write_text("Impression: no acute findings.")
    with deploy.serve(site) as server:
        report = deploy.try_in_browser(server.url, files=[corrupt, notes])
    for result, name in zip(report["files"], ("corrupt.png", "report.txt")):
        assert not result["ok"]
        assert f"“{name}” could not be opened as a picture" in result["message"]
        assert "PNG or JPEG" in result["status"]
    assert not any("Uncaught" in e for e in report["errors"])


def test_without_wasm_the_app_falls_back_and_still_agrees(cnn_site):
    model, _, site, _ = cnn_site
    x = np.random.default_rng(2).random((1, 64, 64, 1), dtype=np.float32)
    with deploy.serve(site) as server:
        report = deploy.try_in_browser(server.url, inputs={"x": x}, backend="cpu")
    assert report["backend"] == "cpu"
    assert np.abs(report["outputs"]["x"] - model.predict(x, verbose=0)).max() <= 1e-4


def test_rewritten_layers_compute_the_same_in_the_browser(tmp_path):
    """Layers the exporter rewrites (Normalization, per-channel Rescaling, keepdims pooling,
    augmentation left out) and others the course may use, in one small model."""
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((32, 32, 1))
    x = keras.Sequential([layers.RandomFlip(), layers.RandomRotation(0.1)], name="augment")(inputs)
    x = layers.Concatenate()([x, x, x])
    x = layers.Rescaling([2.0, 1.0, 0.5], offset=[-1.0, 0.0, 0.1])(x)
    x = layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[0.5, 2.0, 1.5])(x)
    x = layers.SeparableConv2D(8, 3, padding="same", activation="swish")(x)
    x = layers.LeakyReLU(negative_slope=0.1)(x)
    x = layers.UpSampling2D(interpolation="nearest")(x)
    x = layers.AveragePooling2D(2)(x)
    squeeze = layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = layers.Multiply()([x, layers.Conv2D(8, 1, activation="sigmoid")(squeeze)])
    x = layers.Flatten()(layers.MaxPooling2D(4)(x))
    outputs = layers.Dense(3, activation="softmax")(layers.Dense(16, activation="tanh")(x))
    model = keras.Model(inputs, outputs)
    site = deploy.build_webapp(deploy.export_tfjs(model, tmp_path / "model", float16=True), tmp_path / "site")
    x = np.random.default_rng(4).random((1, 32, 32, 1), dtype=np.float32)
    with deploy.serve(site) as server:
        report = deploy.try_in_browser(server.url, inputs={"x": x})
    # float16 weights: compare with Keras running the same rounded weights.
    for variable in model.weights:
        variable.assign(variable.numpy().astype(np.float16).astype(np.float32))
    assert np.abs(report["outputs"]["x"] - model.predict(x, verbose=0)).max() <= 1e-4
    assert report["errors"] == []
