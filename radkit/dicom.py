"""Reading DICOM files: pixels in their units, window/level, de-identification, series to volume.

Introduced in notebook 01_medical_images. Everything here is built on
pydicom; each function does one step a radiologist already knows:

- ``read`` opens one file (also DICOM written without the standard 128-byte header); ``pixels``
  gives its pixel values in the file's units: Hounsfield units on CT (stored value x RescaleSlope
  + RescaleIntercept, per frame for enhanced CT/MR), dose on RT Dose; ``units`` says which.
- ``apply_window`` is window/level: ``level`` is the centre, ``width`` the
  range of values spread from black to white. ``CT_WINDOWS`` holds presets.
- ``display_image`` and ``load_image`` make a picture ready to show: the
  file's own window (or the full range), with MONOCHROME1 turned the right
  way round so bones are bright.
- ``load_series`` puts a folder of slices in order and stacks them into a volume, saying what it
  left out; a folder of several series is listed and one is chosen by number or description.
- ``deidentify`` applies the DICOM standard's de-identification profile and reports what it did
  (the work is in ``radkit.deidentification``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from radkit.errors import RadkitError
from radkit.files import write_atomically

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
        ds = _read_without_header(path)
    except Exception as error:  # pydicom raises many kinds of error on a damaged file
        raise _damaged(path, f"could not be read as DICOM ({type(error).__name__})") from None
    if "TransferSyntaxUID" not in ds.file_meta:  # some writers leave it out: say how the file was read
        ds.file_meta.TransferSyntaxUID = _transfer_syntax_as_read(ds)
    kind = ds.get("SOPClassUID") or getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID")
    if "PixelData" not in ds and "Image Storage" in getattr(kind, "name", ""):  # pydicom stops quietly at the end
        raise _damaged(path, f"should hold an image ({kind.name}) but ends before it")
    return ds


def _read_without_header(path: Path) -> pydicom.Dataset:
    """A file without the 128-byte preamble and "DICM": read it anyway when it really is DICOM."""
    not_dicom = RadkitError(f"{path.name} is not a DICOM file (it has no DICOM header, and its contents "
                            "are not DICOM either).",
                            "Check that you picked the right file; it may be another kind of file renamed "
                            f"to .dcm: {path}")
    try:
        ds = pydicom.dcmread(path, force=True)
        elements = list(ds.iterall())  # parse everything now: garbage fails here, not later
    except Exception:
        raise not_dicom from None
    known = {"SOPClassUID", "SOPInstanceUID", "Modality", "PixelData", "StudyInstanceUID", "PatientID"}
    if not elements or not known & {element.keyword for element in elements}:
        raise not_dicom
    print(f"Note: {path.name} is DICOM without the standard header (no 128-byte preamble and 'DICM'), "
          "as some older systems write it; radkit read it anyway.")
    return ds


def _transfer_syntax_as_read(ds):
    """The uncompressed transfer syntax that matches how pydicom read ``ds``."""
    implicit, little = getattr(ds, "original_encoding", (False, True))
    return (pydicom.uid.ImplicitVRLittleEndian if implicit else
            pydicom.uid.ExplicitVRLittleEndian if little is not False else pydicom.uid.ExplicitVRBigEndian)


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
    except Exception:
        compressed = syntax is not None and syntax.is_compressed
        if not compressed:
            raise _damaged(getattr(ds, "filename", None) or _name(ds),
                           "has an image that could not be decoded") from None
        package = next((pkg for family, pkg in _DECODER_PACKAGES if syntax in family),
                       "pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg")
        if not pydicom.pixels.get_decoder(syntax).available_plugins:
            raise RadkitError(f"{_name(ds)} is compressed ({syntax.name}) and no decoder for it is installed.",
                              f"Install one, then restart the kernel: pip install {package}") from None
        raise RadkitError(f"{_name(ds)} is compressed ({syntax.name}) and its image could not be decompressed: "
                          "the file may be damaged, or it uses a variant the installed decoder cannot read.",
                          f"Update the decoder, then restart the kernel: pip install -U {package}. If that does "
                          "not help, export the image again from the source, uncompressed.") from None


def _per_frame(ds, group: str) -> list | None:
    """For a multi-frame file with functional groups (enhanced CT/MR): the item of ``group`` that applies
    to each frame (its own, else the shared one), or None when the file has no such group."""
    def first(sequence, keyword):
        inner = sequence.get(keyword) if sequence is not None else None
        return inner[0] if inner else None

    shared_sequence = ds.get("SharedFunctionalGroupsSequence")
    shared = first(shared_sequence[0], group) if shared_sequence else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    items = [(first(per_frame[i], group) if i < len(per_frame) else None) or shared for i in range(frames)]
    return items if any(item is not None for item in items) else None


def _rescale(ds) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept for each frame: from the functional groups (enhanced CT/MR) or the header."""
    groups = _per_frame(ds, "PixelValueTransformationSequence")
    if groups is not None:
        slope = [float(g.get("RescaleSlope", 1) or 1) if g is not None else 1.0 for g in groups]
        intercept = [float(g.get("RescaleIntercept", 0) or 0) if g is not None else 0.0 for g in groups]
    else:
        slope = [float(ds.get("RescaleSlope", 1) or 1)]
        intercept = [float(ds.get("RescaleIntercept", 0) or 0)]
    return np.array(slope, dtype=np.float64), np.array(intercept, dtype=np.float64)


def pixels(ds: pydicom.Dataset) -> np.ndarray:
    """Pixel values in the file's units (float32), shape (rows, cols) or (frames, rows, cols).

    CT: Hounsfield units (stored value x RescaleSlope + RescaleIntercept, per frame for enhanced CT);
    RT Dose: dose (stored value x DoseGridScaling); other images: whatever units the file uses
    (``units(ds)`` says which). Padding outside the scanned field (PixelPaddingValue) becomes air on CT.
    """
    if _is_colour(ds):
        raise RadkitError(f"{_name(ds)} is a colour image ({ds.PhotometricInterpretation}), "
                          "but a grey (black-and-white) image was expected.",
                          "Use a greyscale image such as an X-ray, CT or MRI.")
    stored = _decode(ds)
    if "ModalityLUTSequence" in ds:  # rare: a look-up table instead of slope and intercept
        return pydicom.pixels.apply_modality_lut(stored, ds).astype(np.float32)
    if ds.get("Modality") == "RTDOSE":
        return (stored * float(ds.get("DoseGridScaling", 1) or 1)).astype(np.float32)
    slope, intercept = _rescale(ds)
    if stored.ndim == 3 and len(slope) == len(stored):  # one slope and intercept per frame
        slope, intercept = slope[:, None, None], intercept[:, None, None]
    else:
        slope, intercept = slope[0], intercept[0]
    values = (stored * slope + intercept).astype(np.float32)  # the same formula as in the notebook
    padding = _padding(ds, stored)
    if padding is not None and padding.any() and not padding.all():
        values[padding] = -1000.0 if ds.get("Modality") == "CT" else values[~padding].min()
    return values


def _padding(ds, stored) -> np.ndarray | None:
    """Where the stored values are padding (outside the scanned field), from PixelPaddingValue."""
    if "PixelPaddingValue" not in ds:
        return None
    low = high = int(ds.PixelPaddingValue)
    if "PixelPaddingRangeLimit" in ds:
        low, high = sorted((low, int(ds.PixelPaddingRangeLimit)))
    return (stored >= low) & (stored <= high)


def units(ds: pydicom.Dataset) -> str:
    """What the numbers from ``pixels(ds)`` mean, in plain words (notebook 01)."""
    modality = ds.get("Modality")
    if modality == "RTDOSE":
        unit = "Gy" if str(ds.get("DoseUnits", "")).upper() == "GY" else "relative dose"
        return f"{unit}: a radiation dose map, not an image intensity"
    groups = _per_frame(ds, "PixelValueTransformationSequence")
    kind = (groups[0] if groups and groups[0] is not None else ds).get("RescaleType")
    if modality == "CT" or kind == "HU":
        return "HU (Hounsfield units)"
    if kind and kind != "US":
        return str(kind)
    return "the scanner's own units (no physical unit)"


def apply_window(pixels, level: float, width: float) -> np.ndarray:
    """Window/level: values from level - width/2 (black) to level + width/2 (white), as floats 0..1."""
    if not width > 0:
        raise RadkitError(f"The window width must be more than 0; you gave {width}.",
                          "Use a positive width, for example 400 for a soft-tissue CT window.")
    low = level - width / 2
    return np.clip((np.asarray(pixels, dtype=np.float32) - low) / width, 0.0, 1.0)


def default_window(ds: pydicom.Dataset, frame: int = 0) -> tuple[float, float] | None:
    """The (level, width) stored in the file (WindowCenter/WindowWidth; for enhanced CT/MR the frame's own,
    from its functional groups), or None. The first if several."""
    groups = _per_frame(ds, "FrameVOILUTSequence")
    source = groups[min(frame, len(groups) - 1)] if groups is not None else ds
    if source is None or "WindowCenter" not in source or "WindowWidth" not in source:
        return None
    centre, width = source.WindowCenter, source.WindowWidth
    first = lambda value: float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)  # noqa: E731
    return (first(centre), first(width)) if first(width) > 0 else None


def display_image(ds: pydicom.Dataset, window: tuple[float, float] | None = None, values=None,
                  frame: int = 0) -> np.ndarray:
    """A picture ready to show (floats 0..1, bright = white): the given window, else the file's own
    window (of ``frame`` in a multi-frame file) or look-up table, else the full range; MONOCHROME1
    (where low values are white) inverted.

    ``values`` are the pixels from ``pixels(ds)`` (or one frame of them) when already at hand.
    """
    values = pixels(ds) if values is None else np.asarray(values, dtype=np.float32)
    window = window or default_window(ds, frame)
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
    values, frame = pixels(ds), 0
    if values.ndim == 3:
        frame = len(values) // 2
        values = values[frame]
    return np.round(display_image(ds, values=values, frame=frame) * 255).astype(np.uint8)


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

def deidentify(ds: pydicom.Dataset, keep=(), secret: bytes | None = None):
    """Remove what identifies the patient from ``ds`` (in place) by the DICOM standard's Basic Profile
    (PS3.15 Annex E), and return a report of what was removed, emptied, replaced and kept, and why.

    Nested sequences, private tags, overlays and curves included; new UIDs are the same within a
    session (a series stays a series) and cannot be recomputed without the session's secret (pass
    ``secret=`` bytes of your own to de-identify more files consistently later). ``keep`` lists keywords
    to keep anyway, e.g. ``keep=["PatientAge", "PatientSex"]``. Text burned into the pixels cannot be
    removed this way: the report warns. Introduced in notebook 01; the work is in ``radkit.deidentification``.
    """
    from radkit.deidentification import apply_basic_profile

    return apply_basic_profile(ds, keep=keep, secret=secret)


# ------------------------------------------------------------------ writing files

WRITER = "RADKIT"  # written into every file radkit saves, so that it can tell its own files from the user's


def _dicom_written_by_radkit(path: Path) -> bool:
    meta = pydicom.dcmread(path, stop_before_pixels=True, force=True).file_meta
    return str(meta.get("ImplementationVersionName", "")).startswith(WRITER)


def _png_written_by_radkit(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        return image.info.get("Software") == WRITER


def save(ds: pydicom.Dataset, path) -> Path:
    """Write ``ds`` to a DICOM file (safely: a failed write leaves no half-written file).

    A header that lacks parts of the File Meta Information (for example after reading a file without
    the standard header) gets them filled in from the dataset itself; network command elements
    (group 0000), which never belong in a file, are left out.
    """
    _complete_file_meta(ds)

    def write(temporary):
        try:
            ds.save_as(temporary, enforce_file_format=True)
        except OSError:
            raise
        except Exception as error:  # pydicom's errors about a header it cannot write
            raise RadkitError(f"{_name(ds)} could not be written as a DICOM file: {type(error).__name__} "
                              f"({str(error).splitlines()[0][:200] if str(error) else 'no details'}).",
                              "Check the attributes you changed; reading the original file again "
                              "and repeating the steps usually helps.") from None

    ds.file_meta.ImplementationVersionName = WRITER  # (0002,0013): which program wrote this file
    return write_atomically(path, write, _dicom_written_by_radkit)


def _complete_file_meta(ds) -> None:
    """Fill in the File Meta Information a DICOM file needs, from the dataset itself where possible."""
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = pydicom.dataset.FileMetaDataset()
    meta = ds.file_meta
    for tag in [tag for tag in ds.keys() if tag.group == 0x0000]:  # network commands never belong in a file
        del ds[tag]
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = _transfer_syntax_as_read(ds)
    if "SOPClassUID" not in ds:  # not an image or object the standard knows: say so in the file
        ds.SOPClassUID = meta.get("MediaStorageSOPClassUID") or pydicom.uid.SecondaryCaptureImageStorage
    if "SOPInstanceUID" not in ds:
        ds.SOPInstanceUID = meta.get("MediaStorageSOPInstanceUID") or pydicom.uid.generate_uid()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def save_png(image, path) -> Path:
    """Save a picture (floats 0..1, or uint8) as an 8-bit PNG (safely, never half-written)."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", WRITER)
    return write_atomically(path, lambda temporary: Image.fromarray(image).save(temporary, format="PNG", pnginfo=info),
                             _png_written_by_radkit)


# ------------------------------------------------------------------ series to volume

@dataclass
class Series:
    """A 3-D volume from a folder of slices: ``volume`` (slices, rows, cols) in real units (HU on CT),
    ``spacing`` (between slices, rows, cols) in mm, the ``files`` in slice order, the first slice's
    header, how the slices were put in ``order``, and ``notes`` on anything radkit had to decide."""

    volume: np.ndarray
    spacing: tuple[float, float, float]
    files: list[Path]
    header: pydicom.Dataset
    order: str  # how the slices were put in order
    notes: list[str] = field(default_factory=list)


def _position_along_normal(ds) -> float | None:
    """Where a slice lies along the line at right angles to it (mm), from its position and orientation."""
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
        return None
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal))


def read_folder(folder, headers_only: bool = False) -> list[tuple[Path, pydicom.Dataset]]:
    """Every DICOM image file in ``folder`` (and its sub-folders), skipping other files.
    ``headers_only`` reads the headers without the pixels (fast, for listing a large folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the spelling of the path.")
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not pydicom.misc.is_dicom(path):  # a README, a thumbnail...: skip it
            continue
        ds = _header(path) if headers_only else read(path)  # a damaged file stops with a clear message
        if headers_only and "Rows" not in ds:  # not an image, or a header cut short: the full read tells
            ds = read(path)
        if "Rows" in ds if headers_only else "PixelData" in ds:
            found.append((path, ds))
    if not found:
        raise RadkitError(f"No DICOM images were found in {folder}.",
                          "Check that this is the folder holding the .dcm files (it may be a folder above or below).")
    return found


def _header(path: Path) -> pydicom.Dataset:
    """The header of one file, without its pixels; a clear error when it is damaged."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:
        return read(path)  # says plainly what is wrong (or reads the file after all)


def _series_list(groups: dict) -> list[str]:
    """One short line per series: number, description, slices, modality, start of the UID."""
    lines = []
    for number, (uid, slices) in enumerate(groups.items(), start=1):
        first = slices[0][1]
        description = _describe(first)[:40]
        lines.append(f"{number:>3}. {description!r}: {len(slices)} file{'s' * (len(slices) != 1)}, "
                     f"{first.get('Modality', '?')}, UID {uid[:24]}{'...' if len(uid) > 24 else ''}")
    return lines


def _describe(ds) -> str:
    """A series' description, or the nearest thing its header has."""
    keywords = ("SeriesDescription", "ProtocolName", "BodyPartExamined", "StudyDescription")
    return next((str(ds.get(k)) for k in keywords if ds.get(k)), "(no description)")


def _choose_series(folder, groups: dict, series) -> str:
    """The UID of the series the learner chose: by number (from 1), by UID, or by part of its description."""
    listing = _series_list(groups)
    shown = "\n".join(listing[:25] + ([f"     ... and {len(listing) - 25} more"] if len(listing) > 25 else []))
    how = "load_series(folder, series=1) by number, or series='T1' by part of its description"
    uids = list(groups)
    if series is None:
        raise RadkitError(f"{Path(folder).name} holds {len(groups)} series:\n{shown}", f"Choose one: {how}.")
    if isinstance(series, (int, np.integer)) and not isinstance(series, bool):
        if 1 <= series <= len(uids):
            return uids[series - 1]
        raise RadkitError(f"There is no series number {series}: the folder holds {len(uids)}.\n{shown}",
                          f"Choose a number from 1 to {len(uids)}.")
    text = str(series)
    if text in groups:
        return text
    matches = [uid for uid in uids if text.lower() in _describe(groups[uid][0][1]).lower()]
    if len(matches) == 1:
        return matches[0]
    problem = f"{len(matches)} series match {text!r}" if matches else f"No series matches {text!r}"
    raise RadkitError(f"{problem}. The folder holds:\n{shown}", f"Choose one: {how}.")


def load_series(folder, series=None, series_uid: str | None = None) -> Series:
    """Stack the slices in ``folder`` into a 3-D volume, in slice order (notebook 01).

    Slices are ordered by their position along the slice normal (ImagePositionPatient and
    ImageOrientationPatient), or by InstanceNumber when positions are missing. A folder holding
    several series needs ``series``: its number in the list the error shows, or part of its
    description (``series_uid`` also works). Copies of the same slice (same SOPInstanceUID) are left
    out with a note; slices facing different ways are refused; a single slice is said not to be a volume.
    """
    groups: dict[str, list] = {}
    for path, ds in read_folder(folder, headers_only=True):  # headers first: a big folder lists quickly
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((path, ds))
    choice = series_uid if series_uid is not None else series
    uid = next(iter(groups)) if choice is None and len(groups) == 1 else _choose_series(folder, groups, choice)
    slices, notes = _without_copies([(path, read(path)) for path, _ in groups[uid]])
    _check_orientation(folder, slices)

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
        gaps = np.diff(sorted(positions))
        if np.any(gaps < 1e-3):
            same = [p.name for (p, _), gap in zip(slices, np.r_[gaps, 1.0]) if gap < 1e-3][:3]
            raise RadkitError(f"Some slices lie at the same position ({', '.join(same)} and others): "
                              "they may be two acquisitions of the same place, or two series in one.",
                              "Keep one file per position in the folder, then try again.")
        between = float(np.median(gaps))
    else:
        between = float(header.get("SpacingBetweenSlices") or header.get("SliceThickness") or 1.0)
    if len(slices) == 1:
        notes.append("This series has a single slice: it is one image, not a volume "
                     "(the spacing between slices is unknown; SliceThickness is shown instead).")
    row, col = (float(v) for v in header.get("PixelSpacing", [1.0, 1.0]))
    volume = np.stack([pixels(ds) for _, ds in slices])
    for note in notes:
        print(f"Note: {note}")
    return Series(volume, (round(between, 4), row, col), [p for p, _ in slices], header, order, notes)


def _without_copies(slices: list) -> tuple[list, list[str]]:
    """Leave out files that repeat a slice already seen (same SOPInstanceUID), with a note."""
    seen, kept, copies = set(), [], []
    for path, ds in slices:
        uid = str(ds.get("SOPInstanceUID", "")) or str(path)
        if uid in seen:
            copies.append(path.name)
        else:
            seen.add(uid)
            kept.append((path, ds))
    notes = [f"{len(copies)} file{'s' * (len(copies) != 1)} repeating a slice already read (same SOPInstanceUID) "
             f"left out: {', '.join(copies[:5])}{' ...' if len(copies) > 5 else ''}"] if copies else []
    return kept, notes


def _check_orientation(folder, slices: list) -> None:
    """Refuse slices that face different ways: stacking them would make a wrong volume."""
    faces = {}
    for path, ds in slices:
        if "ImageOrientationPatient" in ds:
            key = tuple(np.round(np.array(ds.ImageOrientationPatient, dtype=float), 3))
            faces.setdefault(key, []).append(path.name)
    if len(faces) > 1:
        listing = "; ".join(f"{len(names)} facing {list(key)} (e.g. {names[0]})" for key, names in faces.items())
        raise RadkitError(f"The slices in {Path(folder).name} face different ways ({listing}), so they cannot be "
                          "stacked into one volume (a localiser, or several planes in one series).",
                          "Put only slices with the same ImageOrientationPatient in the folder.")


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
