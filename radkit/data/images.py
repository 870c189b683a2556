"""Decode one picture file (PNG, JPEG, DICOM, GIF, WebP, TIFF, BMP) into grey pixels: the one decoding
path shared by training, prediction and the web app. Introduced in notebook 02.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radkit.errors import RadkitError


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp"}


DICOM_SUFFIXES = {".dcm", ".dicom"}


IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def is_dicom(path: Path) -> bool:
    """True when a file is DICOM: a .dcm/.dicom name, or the DICM marker at byte 128 (files without extension)."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _unreadable(path: Path, why: str) -> RadkitError:
    return RadkitError(
        f"{path.name} could not be read: it is not an image file that can be opened ({why}); it may be "
        "damaged or not really a picture (for example a text file renamed to .png).",
        f"Open it in an image viewer to check, then replace or remove it: {path}")


def _sixteen_to_eight(values: np.ndarray, what: str) -> np.ndarray:
    """16-bit grey values (0..65535) to 8 bits by keeping the top 8 bits (value // 256).

    This is what web browsers do when they show a 16-bit PNG (measured in Chromium), so the
    web app and Python see the same picture. It is a fixed mapping, not a per-image stretch:
    a uniform image stays uniform grey, and the same value means the same grey in every file.
    A 12-bit image stored in 16 bits (0..4095) therefore looks dark: export it stretched, or use DICOM.
    """
    if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
        raise RadkitError(f"{what}: numbers outside 0..65535 ({values.min()}..{values.max()}), "
                          "so not grey levels of a picture.",
                          "Save the picture as an 8-bit or 16-bit greyscale PNG (or use the DICOM file).")
    return (values.astype(np.uint32) >> 8).astype(np.uint8)


def _float_to_eight(values: np.ndarray, what: str, high: float | None = None) -> np.ndarray:
    """Decimal grey values to 0..255: 0..1 is scaled by 255, 0..255 is rounded; anything else is refused.

    ``high`` is the largest value of the whole collection (so that all its images are scaled alike).
    """
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise RadkitError(f"{what} contain missing values (NaN or infinity).",
                          "Fix or remove the damaged images, then load them again.")
    low = values.min(initial=0)
    high = values.max(initial=0) if high is None else high
    if low < 0 or high > 255:
        raise RadkitError(f"{what}: decimal numbers from {low:g} to {high:g}, not grey levels 0..1 or 0..255.",
                          "Scale the pictures to 0..1 or 0..255 first (for CT, apply a window), then load them.")
    return np.rint(values * (255.0 if high <= 1 else 1.0)).astype(np.uint8)


def _on_black(pixels: np.ndarray) -> np.ndarray:
    """Grey+alpha or RGBA (uint8) laid on black, as the web page draws it: transparent parts become black."""
    colour, alpha = pixels[..., :-1].astype(np.uint32), pixels[..., -1:].astype(np.uint32)
    if (alpha == 255).all():
        return pixels[..., :-1]
    return ((colour * alpha + 127) // 255).astype(np.uint8)  # rounded colour x alpha / 255


def decode_image(path) -> np.ndarray:
    """Read any picture file as a web browser shows it: uint8 grey (H, W) or colour (H, W, 3).

    The one decoding path of RadKit (notebooks 02 and 09): ``read_image``, the folder loaders,
    ``predict_folder`` and the web app's reference ``radkit.deploy.preprocess`` all start here.
    PNG, JPEG, GIF, WebP, TIFF and BMP through Pillow; DICOM through ``radkit.dicom``. Like a browser:
    the EXIF orientation is applied, CMYK becomes RGB, transparent parts are drawn on black, an
    animation gives its first frame (with a note), and 16-bit grey keeps its top 8 bits (value // 256).
    Colour is kept (``read_image`` refuses it; the web page accepts it).
    """
    path = Path(path)
    if not path.is_file():
        raise RadkitError(f"There is no file at {path}.", "Check the spelling of the path and that the file exists.")
    if is_dicom(path):
        from radkit import dicom

        return dicom.load_image(path)
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89 and 179 million pixels: refuse there too (memory on a laptop).
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                frames = getattr(picture, "n_frames", 1)
                picture.seek(0)
                picture = ImageOps.exif_transpose(picture)  # as browsers do; also loads the pixels
                pixels = _pixels_of(picture, path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RadkitError(f"{path.name} is too large to read safely: over {Image.MAX_IMAGE_PIXELS:,} pixels "
                          "(a chest film has about 10 million).",
                          "Make a smaller copy first (for example 2048 pixels on the longest side), "
                          "or remove the file from the folder.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise _unreadable(path, type(error).__name__) from None
    if frames > 1:
        print(f"Note: {path.name} is an animation of {frames} frames; only the first frame is used "
              "(as the web app does).")
    if pixels.ndim == 3 and (pixels == pixels[..., :1]).all():
        pixels = pixels[..., 0]  # grey saved as colour: one plane is enough
    return np.ascontiguousarray(pixels)


def _pixels_of(picture, path: Path) -> np.ndarray:
    """The pixels of an open Pillow picture as uint8 grey or RGB (alpha laid on black)."""
    mode = picture.mode
    if mode.startswith("I;16") or mode == "I":
        return _sixteen_to_eight(np.asarray(picture), path.name)
    if mode == "F":
        return _float_to_eight(np.asarray(picture), path.name)
    if mode in ("LA", "La"):
        return _on_black(np.asarray(picture.convert("LA")))
    if mode in ("RGBA", "RGBa", "PA") or "transparency" in picture.info:  # incl. a transparent grey/palette entry
        return _on_black(np.asarray(picture.convert("RGBA")))
    if mode in ("1", "L"):
        return np.asarray(picture.convert("L"))
    return np.asarray(picture.convert("RGB"))  # RGB, palette, CMYK, YCbCr, LAB, HSV


def _grey_from_colour(pixels: np.ndarray, name: str) -> np.ndarray:
    """Grey from colour pixels (..., 3) whose channels are (nearly) equal: 0.299 R + 0.587 G + 0.114 B, rounded.

    The same weights as the web page; true colour is refused.
    """
    rgb = pixels[..., :3].astype(np.int16)
    if np.abs(rgb - rgb[..., :1]).max(initial=0) > 8:
        raise RadkitError(
            f"{name} is a colour image, but a grey (black-and-white) image was expected.",
            "Use the greyscale export of the image (radiographs, CT and MRI are grey), or convert it "
            "first, for example with PIL: Image.open(path).convert('L').",
        )
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def read_image(path) -> np.ndarray:
    """Read one picture file (PNG, JPEG, DICOM, GIF, WebP, TIFF, BMP) as a grey picture (uint8, height x width).

    Decoded by ``decode_image`` exactly as the web app sees it (notebooks 00 and 02); colour is refused.
    """
    pixels = decode_image(path)
    return _grey_from_colour(pixels, Path(path).name) if pixels.ndim == 3 else pixels


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize a stack of grey pictures to ``size`` x ``size`` pixels (smooth resampling)."""
    from PIL import Image

    if images.shape[1:3] == (size, size):
        return images
    return np.stack([np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR)) for img in images])


def grey_stack(images, what: str = "pictures",
               fix: str = "If these are colour pictures (last number 3), convert them to grey first.") -> np.ndarray:
    """Grey pictures as a stack (number, height, width): one picture (H, W) becomes a stack of one and a
    trailing channel of 1 is dropped; anything else is a RadkitError naming ``what`` and the ``fix``."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise RadkitError(f"Expected grey {what} shaped (number, height, width); got shape {images.shape}.", fix)
    return images


def to_model_input(images: np.ndarray, size: int | None = None, colour: bool = False) -> np.ndarray:
    """Turn grey pictures (uint8 0..255) into model input: float32 0..1, shape (N, H, W, 1).

    ``size`` resizes first. A single picture (H, W) is treated as a stack of one.
    ``colour=True`` keeps colour pictures (N, H, W, 3) in colour, for models that read
    colour (the blood-cell detector of notebook 07: the stain tells the cells apart).
    """
    if colour:
        images = np.asarray(images)
        if images.ndim == 3 and images.shape[-1] == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3:
            raise RadkitError(f"Expected colour pictures shaped (number, height, width, 3); got shape {images.shape}.",
                              "Load them in colour, for example radkit.boxes.load_blood_cells(colour=True).")
        if size is not None:
            raise RadkitError("to_model_input(colour=True) does not resize.", "Resize the pictures when loading them.")
    else:
        images = grey_stack(images)
        if size is not None:
            images = resize_images(images.astype(np.uint8) if images.dtype != np.uint8 else images, size)
    # 0..255 pictures are divided by 255; pictures already in 0..1 stay as they are.
    scale = 255.0 if images.dtype == np.uint8 or (images.size and images.max() > 1.0) else 1.0
    images = images.astype(np.float32) / scale
    return images if colour else images[..., None]
