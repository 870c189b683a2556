"""Loaders: MedMNIST npz, a folder of your own images, the course's chest X-rays, and bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from radkit import data
from radkit.errors import RadkitError


def write_npz(path, n=10, size=28, label_shape="column", colour=False):
    rng = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        shape = (n, size, size, 3) if colour else (n, size, size)
        arrays[f"{split}_images"] = rng.integers(0, 255, shape, dtype=np.uint8)
        labels = np.arange(n) % 2
        arrays[f"{split}_labels"] = labels[:, None] if label_shape == "column" else labels
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("label_shape", ["column", "flat"])
def test_medmnist_labels_of_either_shape_become_flat(tmp_path, label_shape):
    dataset = data.load_medmnist(write_npz(tmp_path / "pneumoniamnist.npz", label_shape=label_shape))
    images, labels = dataset.train
    assert images.shape == (10, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10,)
    assert dataset.label_names == ["normal", "pneumonia"]


def test_medmnist_any_size(tmp_path):
    dataset = data.load_medmnist(write_npz(tmp_path / "pneumoniamnist_64.npz", size=64))
    assert dataset.test[0].shape == (10, 64, 64)


def test_medmnist_colour_where_grey_expected(tmp_path):
    with pytest.raises(RadkitError, match="colour image, but a grey"):
        data.load_medmnist(write_npz(tmp_path / "x.npz", colour=True))


def test_medmnist_not_a_zip(tmp_path):
    path = tmp_path / "pneumoniamnist.npz"
    path.write_text("this is not a dataset")
    with pytest.raises(RadkitError, match="not a readable MedMNIST"):
        data.load_medmnist(path)


def test_medmnist_missing_arrays(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((2, 4, 4)))
    with pytest.raises(RadkitError, match="lacks train_images"):
        data.load_medmnist(path)


@pytest.mark.realdata
def test_real_pneumoniamnist(shared_data):
    dataset = data.load_medmnist(shared_data / "pneumoniamnist" / "pneumoniamnist.npz")
    assert len(dataset.val[0]) == 524 and len(dataset.test[0]) == 624
    assert dataset.train[0].shape[1:] == (28, 28)
    assert set(np.unique(dataset.test[1])) == {0, 1}
    assert dataset.is_real


@pytest.mark.realdata
def test_real_breastmnist_with_flat_labels(shared_data):
    dataset = data.load_medmnist(shared_data / "breastmnist" / "breastmnist.npz")
    assert dataset.train[1].ndim == 1
    assert dataset.label_names == ["malignant", "normal or benign"]
    assert len(dataset.test[0]) == 156


def make_folder(root, layout):
    """layout: {class name: [file names]}; writes small grey pictures."""
    rng = np.random.default_rng(0)
    for label, names in layout.items():
        (root / label).mkdir(parents=True)
        for name in names:
            Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(root / label / name)
    return root


def test_folder_of_mixed_png_jpeg_and_dicom(tmp_path):
    from pydicom.data import get_testdata_file

    root = make_folder(tmp_path / "mine", {"normal": ["a.png", "b.jpg"], "pneumonia": ["c.jpeg"]})
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "pneumonia" / "d.dcm")
    shutil.copy(get_testdata_file("MR_small.dcm"), root / "pneumonia" / "e")  # DICOM without extension
    (root / "normal" / "notes.txt").write_text("not a picture")
    folder = data.load_image_folder(root, size=32)
    assert folder.images.shape == (5, 32, 32) and folder.images.dtype == np.uint8
    assert folder.label_names == ["normal", "pneumonia"]
    assert folder.labels.tolist() == [0, 0, 1, 1, 1]


@pytest.mark.realdata
def test_folder_with_real_dicom_and_jpeg(shared_data, tmp_path):
    root = tmp_path / "real"
    (root / "xray").mkdir(parents=True)
    (root / "mask").mkdir()
    shutil.copy(shared_data / "dicom" / "DX_chest_NIH_ChestXray14_via_nhsx.dcm", root / "xray")
    shutil.copy(shared_data / "cxr_lung_masks" / "1.jpg", root / "xray")
    shutil.copy(shared_data / "cxr_lung_masks" / "1-mask.png", root / "mask")
    folder = data.load_image_folder(root, size=64)
    assert folder.images.shape == (3, 64, 64)
    assert folder.images.std() > 10  # real pictures, not blank


def test_text_file_named_png(tmp_path):
    root = make_folder(tmp_path / "mine", {"a": ["1.png"], "b": ["2.png"]})
    (root / "b" / "broken.png").write_text("I am not a picture")
    with pytest.raises(RadkitError, match="broken.png could not be read"):
        data.load_image_folder(root)
    folder = data.load_image_folder(root, on_error="skip")
    assert len(folder.images) == 2


def test_empty_folder(tmp_path):
    with pytest.raises(RadkitError, match="is empty"):
        data.load_image_folder(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(RadkitError, match="no folder"):
        data.load_image_folder(tmp_path / "nope")


def test_pictures_without_class_subfolders(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(RadkitError, match="without sub-folders") as error:
        data.load_image_folder(tmp_path)
    assert "normal/" in str(error.value)  # the fix shows the expected layout


def test_one_class_only(tmp_path):
    make_folder(tmp_path, {"pneumonia": ["1.png", "2.png"]})
    with pytest.raises(RadkitError, match="only one sub-folder"):
        data.load_image_folder(tmp_path)


def test_pictures_one_level_too_deep(tmp_path):
    make_folder(tmp_path / "normal", {"2024": ["1.png"]})
    make_folder(tmp_path / "pneumonia", {"2024": ["2.png"]})
    with pytest.raises(RadkitError, match="one folder further down"):
        data.load_image_folder(tmp_path)


def test_colour_photo_is_refused_but_grey_saved_as_rgb_is_fine(tmp_path):
    grey = np.tile(np.arange(64, dtype=np.uint8)[:, None, None], (1, 64, 3))
    Image.fromarray(grey).save(tmp_path / "grey_as_rgb.png")
    assert data.read_image(tmp_path / "grey_as_rgb.png").shape == (64, 64)
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.raises(RadkitError, match="colour image"):
        data.read_image(tmp_path / "colour.png")


def test_sixteen_bit_png_is_stretched(tmp_path):
    pixels = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600)
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    image = data.read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8 and image.min() == 0 and image.max() == 255


def test_to_model_input():
    images = np.full((3, 20, 20), 255, np.uint8)
    x = data.to_model_input(images, size=16)
    assert x.shape == (3, 16, 16, 1) and x.dtype == np.float32
    assert np.allclose(x, 1.0)
    assert data.to_model_input(images[0]).shape == (1, 20, 20, 1)
    with pytest.raises(RadkitError, match="convert them to grey"):
        data.to_model_input(np.zeros((2, 8, 8, 3), np.uint8))


def test_split_of_own_folder_is_stratified(tmp_path):
    root = make_folder(tmp_path, {"a": [f"{i}.png" for i in range(20)], "b": [f"{i}.png" for i in range(20)]})
    dataset = data.load_image_folder(root, size=16).split(val=0.2, test=0.2, seed=1)
    assert len(dataset.train[0]) + len(dataset.val[0]) + len(dataset.test[0]) == 40
    assert dataset.test[1].sum() == len(dataset.test[1]) / 2


def test_pneumonia_falls_back_to_phantoms_offline(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "1")
    dataset = data.load_pneumonia(size=32)
    assert "PRACTICE images (phantoms)" in capsys.readouterr().out
    assert not dataset.is_real
    assert dataset.train[0].shape[1:] == (32, 32)
    assert set(np.unique(dataset.train[1])) == {0, 1}
    again = data.load_pneumonia(size=32)
    assert np.array_equal(again.test[0], dataset.test[0]), "phantom data must be the same every run"
    with pytest.raises(RadkitError):
        data.load_pneumonia(size=32, source="real")


@pytest.mark.realdata
def test_pneumonia_uses_real_data_when_present(shared_data, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "0")
    dataset = data.load_pneumonia(size=64)
    assert dataset.is_real and dataset.train[0].shape[1:] == (64, 64)
    assert len(dataset.test[0]) == 624
    assert "using the 28 px copy" in capsys.readouterr().out
    dataset.describe()
    assert "REAL patient images" in capsys.readouterr().out


def test_fast_mode_shrinks_the_data(data_dir, monkeypatch):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "1")
    dataset = data.load_pneumonia(size=16)
    assert len(dataset.train[0]) <= 600 and len(dataset.test[0]) <= 300
