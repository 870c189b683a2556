"""Tests for radkit.dicom: every real file loads, units, windows, MONOCHROME1, series, de-identification, bad input."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset

from radkit import dicom
from radkit.errors import RadkitError

# Until the shared conftest provides the `shared_data` fixture.
SHARED = Path(os.environ.get("RADKIT_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SHARED_DICOM = SHARED / "dicom"
SHARED_FILES = sorted(SHARED_DICOM.glob("*.dcm")) if SHARED_DICOM.is_dir() else []


@pytest.fixture(params=SHARED_FILES or [None], ids=lambda p: p.name if p else "no-shared-data")
def shared_file(request) -> Path:
    """Each real DICOM file in ../shared/data/dicom (skipped with a reason when the folder is absent)."""
    if request.param is None:
        pytest.skip(f"no shared DICOM files at {SHARED_DICOM} (set RADKIT_TEST_DATA to the shared data folder)")
    return request.param


def _chest_regions(image: np.ndarray) -> tuple[float, float]:
    """Mean of both lung fields and of the central column (spine and mediastinum) of a PA chest film."""
    h, w = image.shape
    rows = slice(int(0.3 * h), int(0.6 * h))
    lungs = np.concatenate([image[rows, int(0.2 * w):int(0.35 * w)].ravel(),
                            image[rows, int(0.65 * w):int(0.8 * w)].ravel()])
    return float(lungs.mean()), float(image[rows, int(0.46 * w):int(0.54 * w)].mean())


def _block_decoders(monkeypatch, syntax, package):
    """Make pydicom's decoder for ``syntax`` behave as if no plugin were installed."""
    decoder = pydicom.pixels.get_decoder(syntax)
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(decoder, "_unavailable", {"pylibjpeg": ("pylibjpeg", package)})


# ------------------------------------------------------------------ every real file

@pytest.mark.realdata
def test_every_shared_file_loads_as_a_picture(shared_file):
    image = dicom.load_image(shared_file)
    ds = pydicom.dcmread(shared_file, stop_before_pixels=True)
    assert image.dtype == np.uint8 and image.shape == (ds.Rows, ds.Columns)
    assert image.max() - image.min() > 50, "a display-ready image should use most of the grey scale"


@pytest.mark.realdata
def test_compressed_shared_chest_films_match_the_uncompressed_one():
    files = {p.name.split("_")[-1]: p for p in SHARED_FILES if p.name.startswith("CR_chest_RG1")}
    if len(files) < 3:
        pytest.skip(f"the three CR_chest_RG1 files are not in {SHARED_DICOM}")
    reference = dicom.pixels(dicom.read(files["uncompressed.dcm"]))
    near_lossless = dicom.pixels(dicom.read(files["nearlossless.dcm"]))  # JPEG-LS: needs pylibjpeg-libjpeg
    lossy = dicom.pixels(dicom.read(files["JPEG2000lossy.dcm"]))  # JPEG 2000: needs pylibjpeg-openjpeg
    assert np.array_equal(near_lossless, reference)  # the uncompressed file was made from the JPEG-LS one
    assert np.abs(lossy - reference).mean() < 0.01 * (reference.max() - reference.min())


# ------------------------------------------------------------------ MONOCHROME1

def _chest_films():
    films = [dicom.example_path("RG1_UNCR.dcm")]
    return films + [p for p in SHARED_FILES if p.name.startswith("CR_chest")]


@pytest.mark.parametrize("path", _chest_films(), ids=lambda p: p.name)
def test_monochrome1_chest_film_shows_bright_bones(path):
    ds = dicom.read(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    lungs, spine = _chest_regions(dicom.load_image(path))
    assert spine > lungs + 30, "spine and mediastinum must be brighter than the air-filled lungs"
    # The same check fails on the stored values shown as they are: the inversion is what makes it pass.
    raw_lungs, raw_spine = _chest_regions(dicom.apply_window(dicom.pixels(ds), *dicom.default_window(ds)))
    assert raw_spine < raw_lungs


# ------------------------------------------------------------------ units and windows

def test_pixels_apply_rescale_slope_and_intercept():
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    stored = ds.pixel_array.astype(np.float64)
    expected = stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.allclose(dicom.pixels(ds), expected)
    ds.RescaleSlope, ds.RescaleIntercept = 2, -100
    assert np.allclose(dicom.pixels(ds), stored * 2 - 100)


def test_apply_window_maps_the_window_to_black_and_white():
    level, width = dicom.CT_WINDOWS["lung"]
    values = np.array([level - width, level - width / 2, level, level + width / 2, level + width])
    assert np.allclose(dicom.apply_window(values, level, width), [0, 0, 0.5, 1, 1])
    with pytest.raises(RadkitError, match="width"):
        dicom.apply_window(values, level, 0)


def test_default_window_comes_from_the_file():
    chest = dicom.read(dicom.example_path("RG1_UNCR.dcm"))
    assert dicom.default_window(chest) == (float(chest.WindowCenter), float(chest.WindowWidth))
    overlays = dicom.read(dicom.example_path("MR-SIEMENS-DICOM-WithOverlays.dcm"))  # two windows: the first
    assert dicom.default_window(overlays) == (float(overlays.WindowCenter[0]), float(overlays.WindowWidth[0]))
    assert dicom.default_window(dicom.read(dicom.example_path("CT_small.dcm"))) is None


def test_display_image_falls_back_to_the_full_range():
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    image = dicom.display_image(ds)
    assert image.min() == 0 and image.max() == 1
    windowed = dicom.display_image(ds, window=dicom.CT_WINDOWS["bone"])
    assert np.allclose(windowed, dicom.apply_window(dicom.pixels(ds), *dicom.CT_WINDOWS["bone"]))


def test_display_image_uses_a_voi_lookup_table():
    ds = dicom.read(dicom.example_path("vlut_04.dcm"))
    assert "VOILUTSequence" in ds and dicom.default_window(ds) is None
    image = dicom.display_image(ds)
    expected = pydicom.pixels.apply_voi_lut(pydicom.pixels.apply_modality_lut(ds.pixel_array, ds).astype(int), ds)
    expected = expected.astype(float)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    assert np.allclose(image, expected, atol=1e-6)


def test_multiframe_gives_all_frames_and_load_image_the_middle_one():
    path = dicom.example_path("emri_small.dcm")
    ds = dicom.read(path)
    frames = dicom.pixels(ds)
    assert frames.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    middle = frames[len(frames) // 2]
    expected = np.round(dicom.display_image(ds, values=middle) * 255).astype(np.uint8)
    assert np.array_equal(dicom.load_image(path), expected)


def test_tag_table_lists_the_values_of_the_file():
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    table = dicom.tag_table(ds)
    assert f"(0008,0060)  {ds.Modality}" in table
    assert "WindowCenter" in table and "(not in this file)" in table


# ------------------------------------------------------------------ examples, offline

def test_examples_are_found_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("example_path tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in dicom.EXAMPLES:
        assert dicom.example_path(name).is_file()
    with pytest.raises(RadkitError, match="pydicom-data"):
        dicom.example_path("no_such_file.dcm")


# ------------------------------------------------------------------ compressed files and decoders

def test_jpeg_ls_decodes_to_the_same_pixels_as_uncompressed():
    compressed = dicom.read(dicom.example_path("MR_small_jpeg_ls_lossless.dcm"))
    assert compressed.file_meta.TransferSyntaxUID in pydicom.uid.JPEGLSTransferSyntaxes
    assert np.array_equal(dicom.pixels(compressed), dicom.pixels(dicom.read(dicom.example_path("MR_small.dcm"))))


@pytest.mark.parametrize("name, package", [("MR_small_jpeg_ls_lossless.dcm", "pylibjpeg-libjpeg"),
                                           ("RG1_J2KI.dcm", "pylibjpeg-openjpeg")])
def test_missing_decoder_names_the_package_to_install(monkeypatch, name, package):
    ds = dicom.read(dicom.example_path(name))
    _block_decoders(monkeypatch, ds.file_meta.TransferSyntaxUID, package)
    with pytest.raises(RadkitError, match=f"pip install pylibjpeg {package}") as error:
        dicom.load_image(dicom.example_path(name))
    assert name in str(error.value)


# ------------------------------------------------------------------ bad input

def test_truncated_file_gives_a_clear_error(tmp_path):
    broken = tmp_path / "broken.dcm"
    data = dicom.example_path("CT_small.dcm").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(RadkitError, match="broken.dcm.*damaged"):
        dicom.load_image(broken)
    header_only = tmp_path / "header_only.dcm"
    header_only.write_bytes(data[:300])
    with pytest.raises(RadkitError, match="header_only.dcm"):
        dicom.load_image(header_only)


def test_text_file_named_dcm_gives_a_clear_error(tmp_path):
    fake = tmp_path / "notes.dcm"
    fake.write_text("Patient seen today, chest clear.\n")
    with pytest.raises(RadkitError, match="notes.dcm is not a DICOM file"):
        dicom.load_image(fake)
    with pytest.raises(RadkitError, match="no file"):
        dicom.load_image(tmp_path / "missing.dcm")


def test_colour_dicom_is_refused_where_grey_is_expected(tmp_path):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.Modality = "OT"
    ds.set_pixel_data(np.zeros((8, 8, 3), dtype=np.uint8), "RGB", 8)
    path = dicom.save(ds, tmp_path / "photo.dcm")
    with pytest.raises(RadkitError, match="photo.dcm is a colour image.*grey"):
        dicom.load_image(path)


def test_empty_folder_and_folder_without_dicom(tmp_path):
    with pytest.raises(RadkitError, match="No DICOM images"):
        dicom.load_series(tmp_path)
    (tmp_path / "README.txt").write_text("not an image")
    with pytest.raises(RadkitError, match="No DICOM images"):
        dicom.load_series(tmp_path)
    with pytest.raises(RadkitError, match="no folder"):
        dicom.load_series(tmp_path / "missing")


# ------------------------------------------------------------------ series to volume

def test_example_series_comes_back_in_slice_order(tmp_path):
    folder = dicom.example_series(tmp_path / "series", seed=3)
    names = sorted(p.name for p in folder.iterdir())
    instance_order = [int(pydicom.dcmread(folder / n, stop_before_pixels=True).InstanceNumber) for n in names]
    assert instance_order != sorted(instance_order), "file names should not give the order away"
    series = dicom.load_series(folder)
    original = dicom.read(dicom.example_path("emri_small.dcm"))
    assert np.array_equal(series.volume, original.pixel_array)
    assert series.spacing[0] == pytest.approx(float(original.SpacingBetweenSlices))
    assert series.order.startswith("position")
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*"))


def _ct_slices(folder: Path, z_positions, shuffle_seed=0, keep_positions=True):
    """Write CT_small once per z position, each slice marked by adding its rank to the pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(shuffle_seed).permutation(len(z_positions))
    for rank, z in enumerate(sorted(z_positions)):
        ds = dicom.read(dicom.example_path("CT_small.dcm"))
        ds.PixelData = (ds.pixel_array + rank).astype(ds.pixel_array.dtype).tobytes()
        ds.ImagePositionPatient = [0, 0, z]
        ds.InstanceNumber = rank + 1
        if not keep_positions:
            del ds.ImagePositionPatient
        dicom.save(ds, folder / f"{order[rank]:02d}.dcm")
    return folder


def test_ct_series_sorted_by_position_with_spacing(tmp_path):
    z = [-70.0, -75.0, -65.0, -60.0, -80.0]  # 5 mm apart, written in a shuffled order
    series = dicom.load_series(_ct_slices(tmp_path, z))
    first = dicom.pixels(dicom.read(dicom.example_path("CT_small.dcm")))
    for rank, image in enumerate(series.volume):
        assert np.array_equal(image, first + rank)
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    assert series.spacing == (5.0, *map(float, ds.PixelSpacing))


def test_series_without_positions_falls_back_to_instance_number(tmp_path):
    series = dicom.load_series(_ct_slices(tmp_path, [0.0, 2.0, 4.0, 6.0], shuffle_seed=1, keep_positions=False))
    assert series.order.startswith("InstanceNumber")
    first = dicom.pixels(dicom.read(dicom.example_path("CT_small.dcm")))
    assert all(np.array_equal(image, first + rank) for rank, image in enumerate(series.volume))


def test_damaged_slice_in_a_series_is_named(tmp_path):
    folder = dicom.example_series(tmp_path / "series")
    victim = sorted(folder.iterdir())[4]
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(RadkitError, match=victim.name):
        dicom.load_series(folder)


def test_folder_with_two_series_asks_which_one(tmp_path):
    dicom.example_series(tmp_path / "mr")
    shutil.copy(dicom.example_path("CT_small.dcm"), tmp_path / "ct.dcm")
    with pytest.raises(RadkitError, match="2 series"):
        dicom.load_series(tmp_path)
    ct_uid = str(dicom.read(tmp_path / "ct.dcm").SeriesInstanceUID)
    assert dicom.load_series(tmp_path, series_uid=ct_uid).volume.shape == (1, 128, 128)


# De-identification has its own tests: tests/test_deidentify.py


# ------------------------------------------------------------------ files are never half-written

def _half_write(self, filename, *args, **kwargs):
    """Stands in for a save that fails half-way, as when the disk fills up."""
    Path(filename).write_bytes(b"half a file")
    raise OSError("disk full")


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    monkeypatch.setattr(pydicom.Dataset, "save_as", _half_write)
    with pytest.raises(OSError):
        dicom.save(ds, tmp_path / "out.dcm")
    assert list(tmp_path.iterdir()) == []


def test_save_png_is_8_bit_and_atomic(tmp_path, monkeypatch):
    from PIL import Image

    picture = dicom.apply_window(dicom.pixels(dicom.read(dicom.example_path("CT_small.dcm"))), 40, 400)
    path = dicom.save_png(picture, tmp_path / "ct.png")
    saved = np.asarray(Image.open(path))
    assert saved.dtype == np.uint8 and np.array_equal(saved, np.round(picture * 255).astype(np.uint8))
    monkeypatch.setattr(Image.Image, "save", _half_write)
    with pytest.raises(OSError):
        dicom.save_png(picture, tmp_path / "other.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.png"]
