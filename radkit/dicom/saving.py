"""Save a DICOM file or a PNG, never over a file radkit did not write. Introduced in notebook 01.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from radkit.errors import RadkitError
from radkit.files import write_atomically

from radkit.dicom.reading import _name, _transfer_syntax_as_read


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
