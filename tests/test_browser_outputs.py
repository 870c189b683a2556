"""What the browser app shows for each kind of course model (issue 13), checked in a real Chromium.

- a classifier's heatmap (class activation map) computed in the page equals ``radkit.explain.cam``;
- a segmentation model's outline and its area, in mm² when the DICOM gives the pixel spacing;
- notebook 07's box regressor: the box, in the same pixels as ``radkit.models.predict_boxes``;
- the model card travels with the model ("About this model"), and the "Not for diagnosis" notice stays.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pydicom
import pytest
from PIL import Image

from radkit import deploy, explain, models, phantoms, report

pytestmark = pytest.mark.browser

if deploy.browser_missing():
    pytest.skip(f"cannot drive a headless browser: {deploy.browser_missing()}", allow_module_level=True)

import test_browser as base  # noqa: E402  (batch-norm statistics so outputs depend on the input)


def phantom_dicom(path, image, spacing=None, monochrome1=False) -> Path:
    """Write a grey picture (uint8) as a 12-bit DICOM film, optionally with PixelSpacing (mm)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    stored = (np.asarray(image, np.uint16) * 16 + 7).astype(np.uint16)  # 12 bits, not a plain copy of 0..255
    if monochrome1:
        stored = 4095 - stored
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2100, 3800
    if spacing:
        ds.PixelSpacing = list(spacing)
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def _serve_and_open(site, files, **kwargs):
    with deploy.serve(site) as server:
        return deploy.try_in_browser(server.url, files=files, **kwargs)


# ---------------------------------------------------------------- heatmap


# Bugs caught: a heatmap from the wrong feature maps or the wrong class's weights, resized differently from
# Python (corner-aligned instead of half-pixel centres), or scaled differently; and a page that draws one
# for a model whose CAM is not exact.
@pytest.mark.parametrize("outputs", [1, 3])
def test_the_pages_heatmap_equals_radkit_explain_cam(tmp_path, outputs):
    keras.utils.set_random_seed(outputs)
    model = base._with_learned_statistics(models.small_cnn((64, 64, 1), n_outputs=outputs))
    labels = ["normal", "pneumonia"] if outputs == 1 else ["normal", "bacterial", "viral"]
    exported = deploy.export_tfjs(model, tmp_path / "model", label_names=labels)
    meta = json.loads((exported / "radkit.json").read_text())
    assert meta["cam"]["features"] == "bn4" and meta["cam"]["dense"] == "prediction"
    site = deploy.build_webapp(exported, tmp_path / "site")
    films = [phantom_dicom(tmp_path / f"film{i}.dcm", phantoms.chest_xray(size=200, pneumonia=bool(i), seed=i)["image"],
                           monochrome1=bool(i)) for i in range(2)]
    found = _serve_and_open(site, films)
    maps = []
    for path, result in zip(films, found["files"]):
        assert result["ok"], result
        x = deploy.preprocess(path, exported)
        got_input = np.asarray(result["input"], np.float32).reshape(x.shape)
        assert np.abs(got_input - x).max() <= 1e-4
        top = int(np.argmax(model.predict(x, verbose=0)[0]))
        assert result["cam_class"] == top
        expected = explain.cam(model, x, class_index=top)[0]
        got = np.asarray(result["heatmap"], np.float32).reshape(expected.shape)
        assert np.abs(got - expected).max() <= 1e-3, f"max difference {np.abs(got - expected).max()}"
        assert "Where the model looked" in result["page_text"]
        maps.append(expected)
    assert np.abs(maps[0] - maps[1]).max() > 0.1  # different films, different maps: the check can fail
    assert found["errors"] == [] and found["blocked"] == [] and found["csp"] == []


def test_no_heatmap_for_a_model_without_pooling_then_dense(tmp_path):
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(x))
    exported = deploy.export_tfjs(keras.Model(inputs, outputs), tmp_path / "model")
    assert json.loads((exported / "radkit.json").read_text())["cam"] is None
    with pytest.raises(Exception, match="global average pooling"):
        explain.cam(keras.Model(inputs, outputs), np.zeros((1, 32, 32), np.uint8))


# ---------------------------------------------------------------- segmentation


def _threshold_model(size=64):
    """A 'segmentation model' whose answer is known: bright pixels (above 0.5) are the structure."""
    inputs = keras.Input((size, size, 1))
    layer = keras.layers.Conv2D(1, 1, activation="sigmoid", name="outline")
    outputs = layer(inputs)
    layer.set_weights([np.full((1, 1, 1, 1), 40.0, np.float32), np.array([-20.0], np.float32)])
    return keras.Model(inputs, outputs)


# Bugs caught: an area counted at the model's size but not scaled back to the original image (the crop and
# the resize), mm² claimed without a pixel spacing (PNG, or DICOM without PixelSpacing), and an outline
# that is not drawn.
def test_segmentation_outline_and_area_in_mm2_or_in_pixels(tmp_path):
    model = _threshold_model()
    exported = deploy.export_tfjs(model, tmp_path / "model", label_names=["background", "nodule"])
    site = deploy.build_webapp(exported, tmp_path / "site")
    yy, xx = np.mgrid[:180, :240]
    picture = np.where((yy - 90) ** 2 + (xx - 130) ** 2 < 40 ** 2, 230, 30).astype(np.uint8)  # a disc
    spacing = (0.5, 0.8)  # mm between rows, between columns
    with_spacing = phantom_dicom(tmp_path / "disc.dcm", picture, spacing=spacing)
    without = phantom_dicom(tmp_path / "disc_no_spacing.dcm", picture)
    png = tmp_path / "disc.png"
    Image.fromarray(picture).save(png)
    found = _serve_and_open(site, [with_spacing, without, png], screenshot=tmp_path / "outline.png")
    crop_h, crop_w = deploy._crop(180, 240, 64, 64)
    for path, result in zip((with_spacing, without, png), found["files"]):
        assert result["ok"], result
        x = deploy.preprocess(path, exported)
        mask = model.predict(x, verbose=0)[0, ..., 0] > 0.5
        original_pixels = mask.sum() * (crop_h / 64) * (crop_w / 64)
        assert result["area"]["pixels"] == int(mask.sum()) > 100
        assert result["area"]["original_pixels"] == pytest.approx(original_pixels, rel=1e-9)
        if path == with_spacing:
            mm2 = original_pixels * spacing[0] * spacing[1]
            assert result["area"]["mm2"] == pytest.approx(mm2, rel=1e-9)
            assert f"{mm2:.1f} mm²" in result["page_text"]
            # The disc's true area (pi r^2 in mm²), seen through the crop and resize: within a few per cent.
            assert abs(mm2 - np.pi * 40 ** 2 * spacing[0] * spacing[1]) < 0.08 * mm2
        else:
            assert result["area"]["mm2"] is None
            assert "no area in mm² can be given" in result["page_text"]
    outline = np.asarray(Image.open(tmp_path / "outline.png").convert("RGB")).astype(int)
    assert ((outline[..., 0] > 200) & (outline[..., 1] < 80) & (outline[..., 2] < 80)).sum() > 50  # red is drawn
    assert found["errors"] == []


# ---------------------------------------------------------------- detection


# Bugs caught: corners read in the wrong order (x and y swapped), a box left in the model's pixels when it is
# reported in the original image's, and a cardiothoracic ratio claimed from a model that cannot measure it.
def test_detection_draws_the_box_python_predicts(tmp_path):
    keras.utils.set_random_seed(3)
    model = models.box_regressor((64, 64, 1), weights=None)
    box = model.get_layer("box")
    box.kernel.assign(np.random.default_rng(0).normal(0, 0.3, box.kernel.shape).astype(np.float32))
    model = base._with_learned_statistics(model)
    exported = deploy.export_tfjs(model, tmp_path / "model")
    meta = json.loads((exported / "radkit.json").read_text())
    assert meta["task"] == "detection" and meta["labels"] == ["heart"]
    site = deploy.build_webapp(exported, tmp_path / "site")
    films = [phantom_dicom(tmp_path / f"chest{i}.dcm", phantoms.chest_xray(size=256, seed=i)["image"][:, 20:],
                           spacing=(0.4, 0.4)) for i in range(2)]
    found = _serve_and_open(site, films)
    boxes = []
    for path, result in zip(films, found["files"]):
        assert result["ok"], result
        x = deploy.preprocess(path, exported)
        expected = models.predict_boxes(model, x)[0]
        assert np.abs(np.asarray(result["box"]["model_pixels"]) - expected).max() <= 1e-3
        crop_h, crop_w = deploy._crop(256, 236, 64, 64)
        top, left = (256 - crop_h) // 2, (236 - crop_w) // 2
        original = expected * [crop_w / 64, crop_h / 64, crop_w / 64, crop_h / 64] + [left, top, left, top]
        assert np.abs(np.asarray(result["box"]["original_pixels"]) - original).max() <= 1e-2
        assert f"{(original[2] - original[0]) * 0.4:.1f} mm wide" in result["page_text"]
        assert "Cardiothoracic ratio: not given" in result["page_text"]
        boxes.append(expected)
    assert np.abs(boxes[0] - boxes[1]).max() > 0.05  # the box depends on the film
    assert found["errors"] == []


# Notebook 07's regressor ends in BoxEdges (head="edges"), a RadKit layer the page implements itself.
# Bugs caught: a page layer that drops the learned bias, averages scores over the wrong axis (rows for x),
# takes the softmax over the wrong axis, or places positions at i / n instead of (i + 0.5) / n; corners in the
# wrong order; an exporter that refuses the layer or does not call the model a detector; and no box drawn.
@pytest.mark.parametrize("trunk", ["small_cnn", "mobilenetv2"])
def test_edges_box_regressor_gives_the_box_keras_gives(tmp_path, trunk):
    keras.utils.set_random_seed(5)
    size = 64 if trunk == "small_cnn" else 96
    model = models.box_regressor((size, size, 1), base=trunk, weights=None, head="edges")
    rng = np.random.default_rng(1)
    scores, edges = model.get_layer("edge_scores"), model.get_layer("box")
    scores.kernel.assign(rng.normal(0, 0.5, scores.kernel.shape).astype(np.float32))  # built as zeros: the box
    for bias in (edges.x_bias, edges.y_bias):                                          # would not depend on the film
        bias.assign(bias.numpy() + rng.normal(0, 1.0, bias.shape).astype(np.float32))
    model = base._with_learned_statistics(model)
    exported = deploy.export_tfjs(model, tmp_path / "model")
    meta = json.loads((exported / "radkit.json").read_text())
    assert meta["task"] == "detection" and meta["labels"] == ["heart"]
    layers = json.loads((exported / "model.json").read_text())["modelTopology"]["config"]["layers"]
    assert layers[-1]["class_name"] == "BoxEdges"
    site = deploy.build_webapp(exported, tmp_path / "site")
    films = [phantom_dicom(tmp_path / f"chest{i}.dcm", phantoms.chest_xray(size=256, seed=i)["image"][:, 20:],
                           spacing=(0.4, 0.4)) for i in range(2)]
    found = _serve_and_open(site, films, screenshot=tmp_path / "box.png")
    boxes = []
    for path, result in zip(films, found["files"]):
        assert result["ok"], result
        x = deploy.preprocess(path, exported)
        fractions = model.predict(x, verbose=0)[0]
        expected = np.concatenate([np.minimum(fractions[:2], fractions[2:]), np.maximum(fractions[:2], fractions[2:])])
        got = np.asarray(result["box"]["fractions"])
        assert np.abs(got - expected).max() <= 1e-4, f"page {got}, Keras {expected}"
        assert np.abs(np.asarray(result["box"]["model_pixels"]) - models.predict_boxes(model, x)[0]).max() <= 1e-2
        boxes.append(expected)
    assert np.abs(boxes[0] - boxes[1]).max() > 0.01  # the box depends on the film, so the check can fail
    drawn = np.asarray(Image.open(tmp_path / "box.png").convert("RGB")).astype(int)
    assert ((drawn[..., 0] > 200) & (drawn[..., 1] < 80) & (drawn[..., 2] < 80)).sum() > 50  # the red box is drawn
    assert found["errors"] == [] and found["csp"] == []


# ---------------------------------------------------------------- the model card


def _card():
    rows = [report.metric("AUC", "held-out phantom films", {"estimate": 0.913, "low": 0.871, "high": 0.948}, n=300),
            report.metric("sensitivity at 0.50", "held-out phantom films",
                          {"estimate": 0.802, "low": 0.733, "high": 0.861}, n=300),
            report.metric("AUC", "held-out phantom films", {"estimate": 0.5, "low": 0.44, "high": 0.56}, n=300,
                          model="random weights")]
    return report.model_card("pneumonia test model", intended_use="Teaching: to show how a CNN reads films.",
                             not_for_use=["Diagnosing patients.", "Children under 5 (not in the training data)."],
                             training_data="phantoms", metrics=rows)


# Bugs caught: a card that stays behind when the model travels (not found beside the export), metrics shown
# without their intervals, another model's numbers shown as this model's, and the "Not for diagnosis" notice
# lost once a card is shown.
def test_the_model_card_travels_with_the_model(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.small_cnn((32, 32, 1))
    exported = deploy.export_tfjs(model, tmp_path / "pneumonia_cnn")
    _card().save_beside(exported)  # -> pneumonia_cnn.model_card.md beside the export folder
    site = deploy.build_webapp(exported, tmp_path / "site")
    assert (site / "model_card.json").is_file()
    film = tmp_path / "film.png"
    Image.fromarray(phantoms.chest_xray(size=64)["image"]).save(film)
    found = _serve_and_open(site, [film])
    text = found["files"][0]["page_text_all"]
    assert "About this model" in text and "Teaching: to show how a CNN reads films." in text
    assert "Diagnosing patients." in text and "Children under 5 (not in the training data)." in text
    assert "AUC on held-out phantom films: 0.913 (0.871 to 0.948) (300 films)" in text
    assert "sensitivity at 0.50 on held-out phantom films: 0.802 (0.733 to 0.861)" in text
    assert "0.500 (0.440 to 0.560)" not in text  # the random-weights row is about another model
    assert "Not for diagnosis." in text and "has not been validated for clinical use" in text
    assert found["errors"] == [] and found["csp"] == []


def test_without_a_card_there_is_no_about_section(tmp_path):
    exported = deploy.export_tfjs(models.small_cnn((32, 32, 1)), tmp_path / "model")
    site = deploy.build_webapp(exported, tmp_path / "site")
    assert not (site / "model_card.json").exists()
    assert json.loads((site / "app.json").read_text())["model_card"] is False
    with pytest.raises(Exception, match="no model card"):
        deploy.build_webapp(exported, tmp_path / "site", model_card=tmp_path / "missing.model_card.md")
