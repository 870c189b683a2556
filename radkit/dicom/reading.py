"""Open a DICOM file, with plain messages for damaged files and files without the standard header.
Introduced in notebook 01_medical_images.
"""

from __future__ import annotations

from pathlib import Path

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
        ds = _read_without_header(path)
    except Exception as error:  # pydicom raises many kinds of error on a damaged file
        raise _damaged(path, f"could not be read as DICOM ({type(error).__name__})") from None
    if "TransferSyntaxUID" not in ds.file_meta:  # some writers leave it out: say how the file was read
        ds.file_meta.TransferSyntaxUID = _transfer_syntax_as_read(ds)
    kind = ds.get("SOPClassUID") or getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID")
    if "PixelData" not in ds and "Image Storage" in getattr(kind, "name", ""):  # pydicom stops quietly at the end
        if not _saved_without_pixels(ds):
            raise _damaged(path, f"should hold an image ({kind.name}) but ends before it")
        print(f"Note: {path.name} holds the header only, without the image: it was saved that way "
              "(for example a de-identified header), not damaged.")
    return ds


def _saved_without_pixels(ds) -> bool:
    """A header saved on purpose without its image, once de-identified (PatientIdentityRemoved,
    DeidentificationMethod), as opposed to a copy that stopped half-way."""
    return str(ds.get("PatientIdentityRemoved", "")).upper() == "YES" or "DeidentificationMethod" in ds


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
