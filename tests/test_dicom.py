"""Tests for radkit.dicom: every real file loads, units, windows, MONOCHROME1, series, de-identification, bad input."""

from __future__ import annotations

import os
import re
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
        ds.SOPInstanceUID = pydicom.uid.generate_uid()  # each slice its own instance, as from a scanner
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


# ------------------------------------------------------------------ DICOM that tells the truth

def _corpus() -> list[Path]:
    """pydicom's own test files (odd ones included) and the shared real files."""
    from pydicom.data import get_testdata_files

    return sorted({Path(p) for p in get_testdata_files("*") if Path(p).is_file()}) + SHARED_FILES


# Catches: raw pydicom/plugin errors ("libjpeg error code", AttributeError about File Meta) reaching the
# learner. Every file either reads as a picture or gives a RadkitError; run with -s for the counts.
def test_corpus_every_file_reads_or_gives_a_clear_error(capsys):
    tried, ok, clear = 0, 0, 0
    for path in _corpus():
        tried += 1
        try:
            ds = dicom.read(path)
            if "PixelData" in ds:
                dicom.load_image(path)
            ok += 1
        except RadkitError as error:
            clear += 1
            assert "error code" not in str(error), path.name
    with capsys.disabled():
        print(f"\nDICOM corpus, reading: {tried} files tried, {ok} OK, {clear} clear errors, 0 raw errors")
    assert tried == ok + clear and ok > 50


def _enhanced_ct(intercepts=(-1024.0, -1000.0), windows=((40, 400), (-600, 1500))) -> Dataset:
    """An enhanced (multi-frame, functional groups) CT built from CT_small: two frames, each with its
    own rescale intercept and window in the per-frame functional groups, none in the top-level header."""
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    frame = ds.pixel_array
    ds.PixelData = np.stack([frame, frame]).astype(frame.dtype).tobytes()
    ds.NumberOfFrames = 2
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.EnhancedCTImageStorage
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        ds.pop(keyword, None)
    per_frame = []
    for intercept, (level, width) in zip(intercepts, windows):
        transform, voi, item = Dataset(), Dataset(), Dataset()
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 1, intercept, "HU"
        voi.WindowCenter, voi.WindowWidth = level, width
        item.PixelValueTransformationSequence, item.FrameVOILUTSequence = [transform], [voi]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.SharedFunctionalGroupsSequence = [Dataset()]
    return ds


# Catches: enhanced CT/MR read without the functional groups (0..1196 called "real units" for a CT whose
# values are -1024..172), a single rescale used for all frames, and the window taken from nowhere.
def test_enhanced_ct_rescale_and_window_per_frame():
    ds = _enhanced_ct()
    stored = ds.pixel_array.astype(np.float64)
    values = dicom.pixels(ds)
    assert np.allclose(values[0], stored[0] - 1024) and np.allclose(values[1], stored[1] - 1000)
    assert dicom.default_window(ds, 0) == (40, 400) and dicom.default_window(ds, 1) == (-600, 1500)
    assert dicom.units(ds).startswith("HU")
    real = dicom.read(dicom.example_path("eCT_Supplemental.dcm"))  # rescale in the shared groups
    shared = real.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    expected = real.pixel_array * float(shared.RescaleSlope) + float(shared.RescaleIntercept)
    assert np.allclose(dicom.pixels(real), expected) and dicom.pixels(real).min() < 0
    voi = real.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
    assert dicom.default_window(real) == (float(voi.WindowCenter), float(voi.WindowWidth))


# Catches: RT Dose grids shown as raw stored numbers, as if they were image intensities.
def test_rt_dose_is_scaled_and_named_as_dose():
    ds = dicom.read(dicom.example_path("rtdose.dcm"))
    assert np.allclose(dicom.pixels(ds), ds.pixel_array * float(ds.DoseGridScaling))
    assert "not an image intensity" in dicom.units(ds)


# Catches: padding outside the scanned circle shown as -3024 HU (stored padding x slope + intercept).
def test_pixel_padding_becomes_air_on_ct():
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    stored = ds.pixel_array.copy()
    stored[:10, :10] = -2000
    ds.PixelData, ds.PixelPaddingValue = stored.tobytes(), -2000
    values = dicom.pixels(ds)
    assert np.all(values[:10, :10] == -1000)
    assert np.allclose(values[10:, 10:], stored[10:, 10:] * float(ds.RescaleSlope) + float(ds.RescaleIntercept))


# Catches: the same slice twice (same SOPInstanceUID) stacked into the volume with a spacing of 0 mm.
def test_duplicate_slices_are_left_out_with_a_note(tmp_path, capsys):
    folder = dicom.example_series(tmp_path / "series")
    first = sorted(folder.iterdir())[0]
    shutil.copy(first, folder / "copy_of_a_slice.dcm")
    series = dicom.load_series(folder)
    assert series.volume.shape[0] == 10 and series.spacing[0] > 0
    assert "1 file repeating a slice" in " ".join(series.notes)
    assert "Note:" in capsys.readouterr().out


# Catches: slices facing different ways (a localiser in the folder) stacked silently into a wrong volume.
def test_slices_of_different_orientations_are_refused(tmp_path):
    folder = dicom.example_series(tmp_path / "series")
    victim = sorted(folder.iterdir())[3]
    ds = dicom.read(victim)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]  # axial among sagittal slices
    dicom.save(ds, victim)
    with pytest.raises(RadkitError, match="face different ways"):
        dicom.load_series(folder)


# Catches: one slice presented as a "volume" without a word.
def test_a_single_slice_says_it_is_not_a_volume(tmp_path):
    shutil.copy(dicom.example_path("CT_small.dcm"), tmp_path / "ct.dcm")
    series = dicom.load_series(tmp_path)
    assert series.volume.shape == (1, 128, 128)
    assert "not a volume" in " ".join(series.notes)


# Catches: a folder of many series giving a message thousands of characters long, and no way to choose
# but copying a full UID.
def test_many_series_are_listed_briefly_and_chosen_by_number_or_description(tmp_path):
    dicom.example_series(tmp_path / "mr")
    for n in range(12):
        ds = dicom.read(dicom.example_path("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
        ds.SeriesDescription = f"CT series {n:02d}"
        dicom.save(ds, tmp_path / "ct" / f"{n:02d}.dcm")
    with pytest.raises(RadkitError, match="13 series") as error:
        dicom.load_series(tmp_path)
    message = str(error.value)
    assert len(message) < 1500 and "series=1" in message
    assert "'emri_small split into one file p': 10 files, MR, sagittal, UID ..." in message
    by_text = dicom.load_series(tmp_path, series="split into one file")
    assert by_text.volume.shape == (10, 64, 64)
    number = next(int(line.split(".")[0]) for line in message.splitlines() if "CT series 07" in line)
    assert dicom.load_series(tmp_path, series=number).header.SeriesDescription == "CT series 07"
    with pytest.raises(RadkitError, match="12 series match 'CT series'"):
        dicom.load_series(tmp_path, series="CT series")
    with pytest.raises(RadkitError, match="no series number 99"):
        dicom.load_series(tmp_path, series=99)


# Catches: raw plugin text ("libjpeg error code '-1038'") shown for a damaged compressed image.
def test_damaged_compressed_image_gives_plain_words(tmp_path):
    ds = dicom.read(dicom.example_path("MR_small_jpeg_ls_lossless.dcm"))
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8\xff\xf7" + b"\x00" * 60])  # a broken JPEG-LS stream
    with pytest.raises(RadkitError) as error:
        dicom.pixels(ds)
    message = str(error.value)
    assert "could not be decompressed" in message and "pip install -U pylibjpeg pylibjpeg-libjpeg" in message
    assert "error code" not in message and "Error" not in message


# Catches: DICOM without the 128-byte preamble called "not a DICOM file".
def test_dicom_without_the_standard_header_is_read(tmp_path, capsys):
    original = dicom.example_path("CT_small.dcm")
    no_preamble = tmp_path / "no_preamble.dcm"
    no_preamble.write_bytes(original.read_bytes()[132:])  # no preamble, no "DICM", meta group kept
    bare = tmp_path / "no_meta_at_all.dcm"
    ds = pydicom.dcmread(original)
    with open(bare, "wb") as handle:  # only the dataset, as some old systems wrote it
        pydicom.filewriter.write_dataset(pydicom.filebase.DicomFileLike(handle), ds)
    expected = dicom.pixels(dicom.read(original))
    for path in (no_preamble, bare):
        assert np.array_equal(dicom.pixels(dicom.read(path)), expected), path.name
    assert capsys.readouterr().out.count("DICOM without the standard header") == 2


# ------------------------------------------------------------------ notebook 01's exercises

def _context() -> dict:
    """The names notebook 01 has defined when its exercises run."""
    chest = dicom.read(dicom.example_path("RG1_UNCR.dcm"))
    ct = dicom.read(dicom.example_path("CT_small.dcm"))
    level, width = dicom.CT_WINDOWS["mediastinum"]
    return {"dicom": dicom, "np": np, "chest": chest, "ct": ct, "level": level, "width": width,
            "mr": dicom.read(dicom.example_path("MR_small.dcm"))}


# Catches: checks that accept wrong answers (01 q1 took needs_inverting = "yes") or refuse the solution.
@pytest.mark.parametrize("name, names", [("q1", ["modality", "photometric", "needs_inverting"]),
                                         ("q2", ["mr", "report"]), ("q3", ["hu"]), ("q4", ["low", "high"])])
def test_nb01_checks_take_the_solution_and_reject_each_wrong_answer(name, names, capsys):
    from radkit.checks import nb01

    exercise = getattr(nb01, name)
    assert exercise.wrong, f"{name} has no wrong answers to test"
    for code, should_pass in [(exercise._solution, True)] + [(wrong, False) for wrong in exercise.wrong]:
        namespace = _context()
        exec(code, namespace)
        exercise.check(*(namespace[n] for n in names))
        assert exercise.passed is should_pass, (code, capsys.readouterr().out)


# Catches: a folder of real, unrelated files (15 series) giving a message too long to read, or a
# choice by number that loads another series than the one listed under that number.
@pytest.mark.realdata
def test_shared_folder_of_many_series_lists_them_and_loads_by_number():
    if len(SHARED_FILES) < 10:
        pytest.skip(f"the shared DICOM files are not in {SHARED_DICOM}")
    with pytest.raises(RadkitError, match=r"holds \d+ series") as error:
        dicom.load_series(SHARED_DICOM)
    lines = [line for line in str(error.value).splitlines() if re.match(r"\s*\d+\. ", line)]
    assert len(lines) >= 10 and all(len(line) < 110 for line in lines)
    number, listed = next((int(line.split(".")[0]), line) for line in lines if ", CT, " in line)
    series = dicom.load_series(SHARED_DICOM, series=number)
    assert series.header.Modality == "CT" and str(series.header.SeriesInstanceUID).endswith(listed.split("...")[-1])


# Catches: saving the de-identified copy over the original scan (or any file radkit did not write),
# while re-saving radkit's own output (running a cell twice) still works.
def test_save_never_overwrites_a_file_radkit_did_not_write(tmp_path):
    original = tmp_path / "patient.dcm"
    original.write_bytes(dicom.example_path("CT_small.dcm").read_bytes())
    ds = dicom.read(original)
    dicom.deidentify(ds)
    with pytest.raises(RadkitError, match="did not write it"):
        dicom.save(ds, original)
    assert original.read_bytes() == dicom.example_path("CT_small.dcm").read_bytes()
    copy = dicom.save(ds, tmp_path / "anonymous.dcm")
    assert dicom.save(ds, copy) == copy  # its own file: replaced
    picture = np.zeros((4, 4), np.uint8)
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's own picture")
    with pytest.raises(RadkitError, match="did not write it"):
        dicom.save_png(picture, mine)
    assert mine.read_bytes() == b"the user's own picture"
    png = dicom.save_png(picture, tmp_path / "ours.png")
    assert dicom.save_png(picture, png) == png


# ------------------------------------------------------------------ messages a clinician can act on

def _ct_series(folder, n, uid, description, orientation=(1, 0, 0, 0, 1, 0), date="20240305"):
    """``n`` one-slice CT files of one series (pydicom's CT_small), with the given UID, plane and date."""
    for k in range(n):
        ds = dicom.read(dicom.example_path("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, pydicom.uid.generate_uid()
        ds.SeriesDescription, ds.SeriesDate, ds.ImageOrientationPatient = description, date, list(orientation)
        ds.ImagePositionPatient = [0, 0, 5.0 * k]
        dicom.save(ds, folder / f"{uid[-6:]}_{k}.dcm")


# Catches: many one-slice series listed under the same shortened UID prefix, with no date and no plane,
# so that none can be told apart or chosen except by copying a full UID.
def test_many_series_with_one_uid_prefix_are_told_apart_and_chosen_by_uid_tail(tmp_path):
    prefix = "1.3.6.1.4.1.14519.5.2.1.7695.4164.588007658875541480266195634"
    planes = [(1, 0, 0, 0, 1, 0), (1, 0, 0, 0, 0, -1), (0, 1, 0, 0, 0, -1), (1, 0, 0, 0, 0.7071, 0.7071)]
    for n in range(24):
        _ct_series(tmp_path, 1, f"{prefix}{n:02d}", "CT chest", orientation=planes[n % 4], date=f"202403{n + 1:02d}")
    with pytest.raises(RadkitError, match="24 series") as error:
        dicom.load_series(tmp_path)
    lines = [line for line in str(error.value).splitlines() if re.match(r"\s*\d+\. ", line)]
    tails = [line.split("UID ")[-1] for line in lines]
    assert len(set(tails)) == len(lines) == 24 and all(len(line) < 110 for line in lines)
    assert all(re.search(r"\d+\. 2024-03-\d\d 'CT chest': 1 file, CT, (axial|coronal|sagittal|oblique), UID", line)
               for line in lines)
    assert {"axial", "coronal", "sagittal", "oblique"} <= {line.split(", ")[2] for line in lines}
    chosen = lines[5]
    series = dicom.load_series(tmp_path, series=chosen.split("UID ")[-1])
    assert series.header.SeriesInstanceUID.endswith(tails[5].lstrip("."))
    assert str(series.header.SeriesDate) == re.search(r"(\d{4})-(\d\d)-(\d\d)", chosen).expand(r"\1\2\3")


# Catches: a mixed-orientation refusal that prints "[np.float64(1.0), ...]" instead of naming the planes.
def test_mixed_orientations_are_named_as_planes(tmp_path):
    folder = dicom.example_series(tmp_path / "series")
    victim = sorted(folder.iterdir())[3]
    ds = dicom.read(victim)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    dicom.save(ds, victim)
    with pytest.raises(RadkitError, match=r"9 sagittal \(e\.g\. .*\); 1 axial \(e\.g\. ") as error:
        dicom.load_series(folder)
    assert "np.float" not in str(error.value) and "[" not in str(error.value).split("face different ways")[1]
    assert [dicom.plane(o) for o in ([1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, -1], [0, 1, 0, 0, 0, -1],
                                     [1, 0, 0, 0, 0.7071, 0.7071])] == ["axial", "coronal", "sagittal", "oblique"]


# Catches: CT pixels outside the scanned circle left at -2048 "HU" when the file declares no padding (real file),
# and a series printing the same note once per slice.
def test_undeclared_ct_padding_is_found_said_and_treated_as_air(tmp_path, capsys):
    real = SHARED_DICOM / "CT_CT2_WG04_uncompressed.dcm"
    if not real.is_file():
        pytest.skip(f"the shared DICOM files are not in {SHARED_DICOM}")
    ds = dicom.read(real)
    assert "PixelPaddingValue" not in ds
    raw = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    outside = raw == raw.min()
    assert raw.min() <= -2000 and outside.mean() > 0.1
    values = dicom.pixels(ds)
    assert np.all(values[outside] == -1000) and np.allclose(values[~outside], raw[~outside])
    said = capsys.readouterr().out
    assert "outside the scanned field" in said and f"{outside.mean():.0%}" in said and "-2048" in said
    for k in range(3):  # a series of three such slices: one note, saying how many slices
        slice_ = dicom.read(real)
        slice_.SOPInstanceUID, slice_.ImagePositionPatient = pydicom.uid.generate_uid(), [0, 0, 2.0 * k]
        slice_.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        dicom.save(slice_, tmp_path / f"{k}.dcm")
    series = dicom.load_series(tmp_path)
    assert series.volume.min() > -1100  # nothing left far below air
    assert [n for n in series.notes if "outside the scanned field" in n][0].startswith("3 of 3 slices")
    assert capsys.readouterr().out.count("outside the scanned field") == 1
    ordinary = dicom.read(dicom.example_path("CT_small.dcm"))  # declares its padding; -896 HU is not below air
    del ordinary.PixelPaddingValue
    assert np.array_equal(dicom.pixels(ordinary), ordinary.pixel_array * float(ordinary.RescaleSlope)
                          + float(ordinary.RescaleIntercept))
    assert "outside the scanned field" not in capsys.readouterr().out


# Catches: tag_table on an Enhanced CT saying RescaleSlope/Intercept are "(not in this file)" although
# the pixels are rescaled with them (they live in the functional groups).
def test_tag_table_reads_enhanced_functional_groups():
    real = dicom.read(dicom.example_path("eCT_Supplemental.dcm"))
    shared = real.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    table = {line.split()[0]: line for line in dicom.tag_table(real).splitlines()}
    assert f"  {shared.RescaleSlope}  (shared by all frames" in table["RescaleSlope"]
    assert f"  {shared.RescaleIntercept}  (shared by all frames" in table["RescaleIntercept"]
    assert "(not in this file)" not in table["PixelSpacing"] and "(not in this file)" not in table["WindowCenter"]
    made = _enhanced_ct()  # a rescale of its own in each frame
    line = next(x for x in dicom.tag_table(made).splitlines() if x.startswith("RescaleIntercept"))
    assert "frame 1 of 2; differs from frame to frame" in line
    assert "(not in this file)" in dicom.tag_table(made, ["BodyPartExamined"])


# Catches: a header saved without its image after de-identification called "damaged" when read back,
# while a file cut short is still called damaged.
def test_saved_header_only_file_is_not_called_damaged(tmp_path, capsys):
    ds = dicom.read(dicom.example_path("CT_small.dcm"))
    dicom.deidentify(ds)
    del ds.PixelData
    path = dicom.save(ds, tmp_path / "header.dcm")
    back = dicom.read(path)
    assert "PixelData" not in back and back.PatientIdentityRemoved in ("YES", "NO")
    assert "header only" in capsys.readouterr().out
    with pytest.raises(RadkitError, match="no image in it"):
        dicom.pixels(back)
    cut = tmp_path / "cut.dcm"
    data = dicom.example_path("CT_small.dcm").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RadkitError, match="damaged"):
        dicom.load_image(cut)
