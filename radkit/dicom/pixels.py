"""From a DICOM file to pixels you can trust: rescale to real units (HU), windows, MONOCHROME1, frames.
Introduced in notebook 01_medical_images.
"""

from __future__ import annotations

import numpy as np
import pydicom

from radkit.errors import RadkitError

from radkit.dicom.reading import _DECODER_PACKAGES, _damaged, _is_colour, _name, read


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


AIR_HU = -1000.0
BELOW_AIR_HU = -1100.0  # nothing in a patient is below air: a constant lower than this is the field's padding
PADDING_SHARE = 0.005  # ... when it covers at least this share of the picture (a few pixels could be noise)


def pixels(ds: pydicom.Dataset, notes: list | None = None) -> np.ndarray:
    """Pixel values in the file's units (float32), shape (rows, cols) or (frames, rows, cols).

    CT: Hounsfield units (stored value x RescaleSlope + RescaleIntercept, per frame for enhanced CT);
    RT Dose: dose (stored value x DoseGridScaling); other images: whatever units the file uses
    (``units(ds)`` says which). Padding outside the scanned field (PixelPaddingValue) becomes air on CT.
    A CT that declares no padding but fills the outside of its scanned circle with one value far below
    air (often -2048 or -3024 "HU") gets the same treatment, with a note: printed, or added to ``notes``.
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
    if padding is None and ds.get("Modality") == "CT":
        padding = _undeclared_padding(ds, values, notes)
    if padding is not None and padding.any() and not padding.all():
        values[padding] = AIR_HU if ds.get("Modality") == "CT" else values[~padding].min()
    return values


def _undeclared_padding(ds, values, notes: list | None) -> np.ndarray | None:
    """On a CT without PixelPaddingValue: the pixels holding one constant far below air, when there are
    enough of them to be the outside of the scanned circle; says so in plain words."""
    lowest = float(values.min()) if values.size else 0.0
    if lowest >= BELOW_AIR_HU:
        return None
    padding = values == lowest
    share = float(padding.mean())
    if share < PADDING_SHARE or share == 1.0:
        return None
    note = (f"{_name(ds)}: {share:.0%} of the pixels hold {lowest:g} HU, far below air ({AIR_HU:g} HU): the area "
            "outside the scanned field, which the file does not declare as padding (no PixelPaddingValue). "
            f"Treated as padding and shown as air ({AIR_HU:g} HU).")
    if notes is None:
        print(f"Note: {note}")
    else:
        notes.append(note)
    return padding


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
