"""Reading DICOM files: pixels in real units, window/level, de-identification, series to volume.

Introduced in notebook 01_medical_images. Everything here is built on
pydicom; each function does one step a radiologist already knows:

- ``read`` opens one file; ``pixels`` gives its pixel values in real units
  (Hounsfield units on CT: stored value x RescaleSlope + RescaleIntercept).
- ``apply_window`` is window/level: ``level`` is the centre, ``width`` the
  range of values spread from black to white. ``CT_WINDOWS`` holds presets.
- ``display_image`` and ``load_image`` make a picture ready to show: the
  file's own window (or the full range), with MONOCHROME1 turned the right
  way round so bones are bright.
- ``load_series`` puts a folder of slices in order and stacks them into a volume.
- ``deidentify`` removes what identifies the patient and says what it removed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from radkit.errors import RadkitError

# Common CT windows as (level, width) in Hounsfield units.
CT_WINDOWS = {
    "brain": (40, 80),
    "lung": (-600, 1500),
    "mediastinum": (50, 350),
    "soft tissue": (40, 400),
    "bone": (400, 1800),
}

# Real example files that ship with pydicom and pydicom-data (no download).
EXAMPLES = {
    "RG1_UNCR.dcm": "chest X-ray (CR, PA), 1955 x 1841, MONOCHROME1",
    "CT_small.dcm": "one CT slice, 128 x 128",
    "MR_small.dcm": "one MR slice, 64 x 64",
    "693_UNCR.dcm": "head CT slice, 512 x 512",
    "emri_small.dcm": "a 3-D T1 MR of the brain: 10 slices of 64 x 64 in one multi-frame file",
    "MR_small_jpeg_ls_lossless.dcm": "MR_small compressed with JPEG-LS (lossless)",
    "RG1_J2KI.dcm": "the chest X-ray compressed with JPEG 2000 (lossy)",
}

# Which pip packages decode each family of compressed transfer syntaxes.
_DECODER_PACKAGES = [
    (pydicom.uid.JPEGLSTransferSyntaxes, "pylibjpeg pylibjpeg-libjpeg"),
    (pydicom.uid.JPEGTransferSyntaxes, "pylibjpeg pylibjpeg-libjpeg"),
    (pydicom.uid.JPEG2000TransferSyntaxes, "pylibjpeg pylibjpeg-openjpeg"),
    (pydicom.uid.RLETransferSyntaxes, "pylibjpeg pylibjpeg-rle"),
]

_COLOUR = ("RGB", "YBR", "PALETTE")


def example_path(name: str = "RG1_UNCR.dcm") -> Path:
    """Path of a real example DICOM file from pydicom / pydicom-data (never downloads)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        raise RadkitError(f"The example DICOM file {name!r} is not installed.",
                          "Install the examples with `pip install pydicom-data`, or pick one of: "
                          + ", ".join(EXAMPLES))
    return Path(path)


def read(path) -> pydicom.Dataset:
    """Open one DICOM file (header and pixels) with a clear message when it is not DICOM or damaged."""
    path = Path(path)
    if not path.is_file():
        raise RadkitError(f"There is no file at {path}.", "Check the spelling of the path and that the file exists.")
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise RadkitError(f"{path.name} is not a DICOM file (it has no DICOM header).",
                          "Check that you picked the right file; it may be another kind of file renamed "
                          f"to .dcm: {path}") from None
    except Exception as error:  # pydicom raises many kinds of error on a damaged file
        raise _damaged(path, f"could not be read as DICOM ({type(error).__name__})") from None
    kind = ds.get("SOPClassUID") or getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID")
    if "PixelData" not in ds and "Image Storage" in getattr(kind, "name", ""):  # pydicom stops quietly at the end
        raise _damaged(path, f"should hold an image ({kind.name}) but ends before it")
    return ds


def _damaged(path, what: str) -> RadkitError:
    """The error for a file that is DICOM but broken."""
    path = Path(path)
    return RadkitError(f"{path.name} {what}; it is probably damaged or incomplete "
                       "(for example a copy that stopped half-way).",
                       f"Copy or export the file again from the source: {path}")


def _name(ds) -> str:
    return Path(ds.filename).name if getattr(ds, "filename", None) else "this DICOM dataset"


def _is_colour(ds) -> bool:
    return str(ds.get("PhotometricInterpretation", "")).startswith(_COLOUR)


def _decode(ds) -> np.ndarray:
    """The stored pixel values, decompressing if needed; a clear error when that is impossible."""
    if "PixelData" not in ds:
        raise RadkitError(f"{_name(ds)} has no image in it (no Pixel Data): it may be a report or an index file.",
                          "Pick a file that holds an image.")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    try:
        return ds.pixel_array
    except Exception as error:
        compressed = syntax is not None and syntax.is_compressed
        if compressed and not pydicom.pixels.get_decoder(syntax).available_plugins:
            package = next((pkg for family, pkg in _DECODER_PACKAGES if syntax in family),
                           "pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg")
            raise RadkitError(f"{_name(ds)} is compressed ({syntax.name}) and no decoder for it is installed.",
                              f"Install one, then restart the kernel: pip install {package}") from None
        problem = f"has an image that could not be decoded ({type(error).__name__}: {error})"
        raise _damaged(getattr(ds, "filename", None) or _name(ds), problem) from None


def pixels(ds: pydicom.Dataset) -> np.ndarray:
    """Pixel values in real units (float32): HU on CT. Shape (rows, cols), or (frames, rows, cols)."""
    if _is_colour(ds):
        raise RadkitError(f"{_name(ds)} is a colour image ({ds.PhotometricInterpretation}), "
                          "but a grey (black-and-white) image was expected.",
                          "Use a greyscale image such as an X-ray, CT or MRI.")
    stored = _decode(ds)
    if "ModalityLUTSequence" in ds:  # rare: a look-up table instead of slope and intercept
        return pydicom.pixels.apply_modality_lut(stored, ds).astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return (stored * slope + intercept).astype(np.float32)  # the same formula as in the notebook


def apply_window(pixels, level: float, width: float) -> np.ndarray:
    """Window/level: values from level - width/2 (black) to level + width/2 (white), as floats 0..1."""
    if not width > 0:
        raise RadkitError(f"The window width must be more than 0; you gave {width}.",
                          "Use a positive width, for example 400 for a soft-tissue CT window.")
    low = level - width / 2
    return np.clip((np.asarray(pixels, dtype=np.float32) - low) / width, 0.0, 1.0)


def default_window(ds: pydicom.Dataset) -> tuple[float, float] | None:
    """The (level, width) stored in the file (WindowCenter/WindowWidth), or None. The first if several."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    centre, width = ds.WindowCenter, ds.WindowWidth
    first = lambda value: float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)  # noqa: E731
    return (first(centre), first(width)) if first(width) > 0 else None


def display_image(ds: pydicom.Dataset, window: tuple[float, float] | None = None, values=None) -> np.ndarray:
    """A picture ready to show (floats 0..1, bright = white): the given window, else the file's own
    window or look-up table, else the full range; MONOCHROME1 (where low values are white) inverted.

    ``values`` are the pixels from ``pixels(ds)`` (or one frame of them) when already at hand.
    """
    values = pixels(ds) if values is None else np.asarray(values, dtype=np.float32)
    window = window or default_window(ds)
    if window is not None:
        image = apply_window(values, *window)
    else:
        if "VOILUTSequence" in ds:  # the file's own look-up table, indexed by whole numbers
            whole = values.astype(np.int64)
            values = pydicom.pixels.apply_voi_lut(whole if np.array_equal(whole, values) else values, ds)
            values = values.astype(np.float32)
        low, high = float(values.min()), float(values.max())
        image = (values - low) / (high - low if high > low else 1.0)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        image = 1.0 - image
    return image.astype(np.float32)


def load_image(path) -> np.ndarray:
    """Read one DICOM file as a display-ready grey picture: uint8, (height, width).

    Multi-frame files give their middle frame. Used by ``radkit.data`` to read
    folders of images.
    """
    ds = read(path)
    values = pixels(ds)
    if values.ndim == 3:
        values = values[len(values) // 2]
    return np.round(display_image(ds, values=values) * 255).astype(np.uint8)


def tag_table(ds: pydicom.Dataset, keywords=None) -> str:
    """A short table of the tags a radiologist looks at first (or of ``keywords``), as text."""
    keywords = keywords or ["Modality", "BodyPartExamined", "PhotometricInterpretation", "Rows", "Columns",
                            "NumberOfFrames", "BitsStored", "PixelSpacing", "SliceThickness",
                            "RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"]
    rows = []
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None:
            value = "(not in this file)"
        elif value == "":
            value = "(empty)"
        elif isinstance(value, pydicom.Sequence):
            value = f"(a sequence of {len(value)} item{'s' * (len(value) != 1)})"
        rows.append(f"{keyword:<26} {_tag(pydicom.tag.Tag(keyword))}  {value}")
    return "\n".join(rows)


def _tag(tag) -> str:
    """A tag written the way DICOM documents write it, e.g. (0010,0010)."""
    return f"({tag.group:04X},{tag.element:04X})"


# ------------------------------------------------------------------ de-identification

# Following the spirit of the DICOM basic confidentiality profile (PS3.15 annex E).
_REMOVE = [
    # the patient
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientBirthTime", "PatientAge",
    "PatientSex", "PatientSize", "PatientWeight", "PatientAddress", "PatientTelephoneNumbers",
    "PatientMotherBirthName", "PatientBirthName", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "MedicalRecordLocator", "EthnicGroup", "Occupation", "MilitaryRank",
    "BranchOfService", "CountryOfResidence", "RegionOfResidence", "AdditionalPatientHistory",
    "PatientComments", "PatientReligiousPreference", "InsurancePlanIdentification", "AdmissionID",
    "PregnancyStatus", "LastMenstrualDate", "SmokingStatus", "AdmittingDiagnosesDescription",
    # the visit, the request and the dates
    "AccessionNumber", "StudyID", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
    "AcquisitionDateTime", "InstanceCreationDate", "StudyTime", "SeriesTime", "AcquisitionTime",
    "ContentTime", "InstanceCreationTime", "RequestAttributesSequence", "ReferencedPatientSequence",
    "ReferencedStudySequence", "RequestedProcedureID", "ImageComments", "StudyComments",
    # the people and places
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "ReferringPhysicianName",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers", "PhysiciansOfRecord",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName", "RequestingPhysician",
    "StationName", "DeviceSerialNumber", "ScheduledPerformingPhysicianName",
]
# Identifiers that tie files together; replaced by new ones (the same old UID always gives the same new one).
_REPLACE_UIDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"]


def deidentify(ds: pydicom.Dataset, keep=()) -> list[str]:
    """Remove what identifies the patient from ``ds`` (in place) and return what was removed.

    Removes names, IDs, birth date, age and sex, addresses, dates, institution
    and staff names, every person name anywhere, private (vendor) tags and
    overlays; replaces UIDs; keeps the pixel data. ``keep`` lists keywords to
    keep anyway (for example ``keep=["PatientAge", "PatientSex"]`` for research
    that needs them). Names burned into the pixels cannot be removed this way.
    """
    keep, removed = set(keep), []

    def remove(dataset, element):
        if element.keyword in keep:
            return
        if element.keyword in _REMOVE or element.VR == "PN" or 0x6000 <= element.tag.group <= 0x60FF:
            del dataset[element.tag]
            label = f"{element.name} {_tag(element.tag)}"
            if label not in removed:
                removed.append(label)

    ds.walk(remove)
    private = sum(1 for element in ds.iterall() if element.tag.is_private)
    if private:
        ds.remove_private_tags()
        removed.append(f"{private} private (vendor-specific) elements")
    for keyword in _REPLACE_UIDS:
        if keyword in ds and keyword not in keep:
            new = pydicom.uid.generate_uid(entropy_srcs=[str(ds.data_element(keyword).value)])
            if keyword == "SOPInstanceUID" and hasattr(ds, "file_meta"):
                ds.file_meta.MediaStorageSOPInstanceUID = new
            setattr(ds, keyword, new)
            removed.append(f"{pydicom.datadict.dictionary_description(keyword)} (replaced by a new UID)")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "radkit.dicom.deidentify (after the DICOM basic profile)"
    if ds.get("BurnedInAnnotation") == "YES":
        removed.append("WARNING: BurnedInAnnotation is YES: text in the pixels may still identify the patient")
    return removed


# ------------------------------------------------------------------ writing files

def _write_atomically(path, write) -> Path:
    """Call ``write(temporary_path)``, then move the finished file into place (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def save(ds: pydicom.Dataset, path) -> Path:
    """Write ``ds`` to a DICOM file (safely: a failed write leaves no half-written file)."""
    return _write_atomically(path, lambda temporary: ds.save_as(temporary, enforce_file_format=True))


def save_png(image, path) -> Path:
    """Save a picture (floats 0..1, or uint8) as an 8-bit PNG (safely, never half-written)."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return _write_atomically(path, lambda temporary: Image.fromarray(image).save(temporary, format="PNG"))


# ------------------------------------------------------------------ series to volume

@dataclass
class Series:
    """A 3-D volume from a folder of slices: ``volume`` (slices, rows, cols) in real units (HU on CT),
    ``spacing`` (between slices, rows, cols) in mm, the ``files`` in slice order and the first slice's header."""

    volume: np.ndarray
    spacing: tuple[float, float, float]
    files: list[Path]
    header: pydicom.Dataset
    order: str  # how the slices were put in order


def _position_along_normal(ds) -> float | None:
    """Where a slice lies along the line at right angles to it (mm), from its position and orientation."""
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
        return None
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal))


def read_folder(folder) -> list[tuple[Path, pydicom.Dataset]]:
    """Every DICOM image file in ``folder`` (and its sub-folders), skipping other files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the spelling of the path.")
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not pydicom.misc.is_dicom(path):  # a README, a thumbnail...: skip it
            continue
        ds = read(path)  # a damaged DICOM file stops with a clear message rather than leaving a gap
        if "PixelData" in ds:
            found.append((path, ds))
    if not found:
        raise RadkitError(f"No DICOM images were found in {folder}.",
                          "Check that this is the folder holding the .dcm files (it may be a folder above or below).")
    return found


def load_series(folder, series_uid: str | None = None) -> Series:
    """Stack the slices in ``folder`` into a 3-D volume, in slice order.

    Slices are ordered by their position along the slice normal
    (ImagePositionPatient and ImageOrientationPatient), or by InstanceNumber
    when positions are missing. A folder holding several series needs
    ``series_uid``: the error lists them.
    """
    files = read_folder(folder)
    groups: dict[str, list] = {}
    for path, ds in files:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((path, ds))
    if series_uid is None and len(groups) > 1:
        listing = "; ".join(f"{uid} ({len(g)} files, {g[0][1].get('SeriesDescription', '')!s})"
                            for uid, g in groups.items())
        raise RadkitError(f"{folder} holds {len(groups)} series: {listing}.",
                          "Choose one with load_series(folder, series_uid='...').")
    slices = groups.get(series_uid if series_uid is not None else next(iter(groups)))
    if slices is None:
        raise RadkitError(f"No series {series_uid} in {folder}.", f"Choose one of: {', '.join(groups)}")

    positions = [_position_along_normal(ds) for _, ds in slices]
    if all(p is not None for p in positions):
        keys, order = positions, "position along the slice normal (ImagePositionPatient)"
    elif all("InstanceNumber" in ds for _, ds in slices):
        keys, order = [int(ds.InstanceNumber) for _, ds in slices], "InstanceNumber (positions missing)"
    else:
        raise RadkitError(f"The slices in {folder} have neither positions nor instance numbers, "
                          "so their order is unknown.", "Export the series again with its full headers.")
    ranked = sorted(range(len(slices)), key=keys.__getitem__)
    slices = [slices[i] for i in ranked]
    shapes = {(ds.Rows, ds.Columns) for _, ds in slices}
    if len(shapes) > 1:
        raise RadkitError(f"The slices in {folder} have different sizes {sorted(shapes)}.",
                          "Put only the slices of one series in the folder.")

    header = slices[0][1]
    if order.startswith("position") and len(slices) > 1:
        between = float(np.median(np.diff(sorted(positions))))
    else:
        between = float(header.get("SpacingBetweenSlices") or header.get("SliceThickness") or 1.0)
    row, col = (float(v) for v in header.get("PixelSpacing", [1.0, 1.0]))
    volume = np.stack([pixels(ds) for _, ds in slices])
    return Series(volume, (round(between, 4), row, col), [p for p, _ in slices], header, order)


def example_series(folder=None, seed: int = 0) -> Path:
    """Write a real 3-D MR (pydicom-data's emri_small.dcm, 10 slices in one file) as one file per slice.

    Scanners usually send a series as one file per slice. The file names are
    shuffled, so only the headers tell the order. Each slice gets a position
    SpacingBetweenSlices (1.2 mm) further along the slice normal. The file
    stores neither orientation nor pixel size: we call the slices sagittal,
    and the volume says 1 mm for the pixels. Returns the folder (a new temporary one when ``folder`` is None).
    """
    source = read(example_path("emri_small.dcm"))
    frames = source.pixel_array
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="radkit_series_"))
    step = float(source.get("SpacingBetweenSlices", 1.0))
    names = np.random.default_rng(seed).permutation(len(frames))
    for index, frame in enumerate(frames):
        ds = read(example_path("MR_small.dcm"))  # a classic one-slice MR header to fill in
        ds.PixelData, ds.Rows, ds.Columns = frame.astype(np.uint16).tobytes(), *frame.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # sagittal: rows run front to back, columns head to feet
        ds.ImagePositionPatient = [-index * step, 0, 0]  # each slice one step further along the normal (-x)
        ds.InstanceNumber = index + 1
        ds.SliceThickness = ds.SpacingBetweenSlices = step
        ds.SeriesDescription = "emri_small split into one file per slice"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        for keyword in ("WindowCenter", "WindowWidth", "PixelSpacing"):  # not known for these slices
            ds.pop(keyword, None)
        save(ds, folder / f"slice_{names[index]:03d}.dcm")
    return folder
