"""Prepare a picture in Python exactly as the web page does, so the two can be compared number for number.
Introduced in notebook 09_browser_app.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np


def _resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's bilinear resampling weights (a triangle filter widened when shrinking), as a matrix."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 1.0 * filter_scale
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        x = (np.arange(lo, hi) - center + 0.5) / filter_scale
        w = np.clip(1.0 - np.abs(x), 0.0, None)
        if w.sum() != 0:
            w = w / w.sum()
        matrix[i, lo:hi] = w
    return matrix


def preprocess(image, model_folder) -> np.ndarray:
    """Prepare one image exactly as the web page does: float32 of shape (1, height, width, channels).

    Introduced in notebook 09. ``image`` is a file path, or an array (H, W) of grey or (H, W, 3)
    of colour values 0-255. A file is decoded by ``radkit.data.decode_image``, the same path as
    training uses (EXIF orientation applied, transparency on black, 16-bit as value // 256, as the
    browser does; DICOM through ``radkit.dicom.load_image``, or through the model's own window when it
    was exported with ``window=``). Steps: grey (0.299 R + 0.587 G + 0.114 B), crop the centre to the model's
    shape, resize like Pillow's bilinear, then ``pixel / pixel_divisor + pixel_offset``.
    """
    meta = json.loads((Path(model_folder) / "radkit.json").read_text(encoding="utf-8"))["input"]
    if isinstance(image, (str, os.PathLike)):
        from radkit.data import decode_image, is_dicom

        if meta.get("window") and is_dicom(Path(image)):
            image = _dicom_through_window(image, meta["window"])
        else:
            image = decode_image(image)
    return preprocess_pixels(image, meta)


def preprocess_pixels(image, meta: dict) -> np.ndarray:
    """The steps of ``preprocess`` on pixels already decoded (grey (H, W) or colour (H, W, 3), 0-255), for a model
    input described by ``meta`` (height, width, channels, pixel_divisor, pixel_offset, as in radkit.json)."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    if meta["channels"] == 1:
        planes = (pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114)[..., None]
    else:
        planes = pixels[..., :3]
    planes = planes.astype(np.float32).astype(np.float64)  # the page keeps grey values as float32
    rows, cols = planes.shape[:2]
    height, width = meta["height"], meta["width"]
    crop_h, crop_w = _crop(rows, cols, height, width)
    top, left = (rows - crop_h) // 2, (cols - crop_w) // 2
    planes = planes[top:top + crop_h, left:left + crop_w]
    # Horizontal pass then vertical, keeping float32 in between, as Pillow (and the page) does.
    planes = np.einsum("ox,yxc->yoc", _resize_weights(crop_w, width), planes).astype(np.float32).astype(np.float64)
    planes = np.einsum("oy,yxc->oxc", _resize_weights(crop_h, height), planes).astype(np.float32)
    out = planes / np.float32(meta["pixel_divisor"]) + np.float32(meta["pixel_offset"])
    return out[None].astype(np.float32)


def _dicom_through_window(path, window) -> np.ndarray:
    """A DICOM file as radkit.dicom.load_image reads it (middle frame, MONOCHROME1 inverted), but shown through
    the model's window instead of the file's own: what the page does for a model exported with ``window=``."""
    from radkit import dicom

    ds = dicom.read(path)
    values, frame = dicom.pixels(ds), 0
    if values.ndim == 3:
        frame = len(values) // 2
        values = values[frame]
    return np.round(dicom.display_image(ds, window=tuple(window), values=values, frame=frame) * 255).astype(np.uint8)


def _crop(rows: int, cols: int, height: int, width: int) -> tuple[int, int]:
    """Size of the largest centred crop with the model's aspect ratio (same rule as the page)."""
    if cols * height > rows * width:  # too wide
        return rows, max(1, math.floor(rows * width / height + 0.5))
    return max(1, math.floor(cols * height / width + 0.5)), cols
