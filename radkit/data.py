"""Load images for the course: real datasets when possible, practice phantoms otherwise.

Introduced in notebook 00_start_here and used from notebook 02 on.

- ``load_pneumonia(size)``: PneumoniaMNIST chest X-rays, or phantoms offline.
- ``load_medmnist(path)``: any MedMNIST ``.npz`` file.
- ``load_image_folder(folder)``: your own images, one sub-folder per class
  (PNG, JPEG, DICOM, GIF, WebP, TIFF may be mixed), or train/, val/, test/
  folders each holding those; ``.split(groups=patient_ids(folder.paths))``
  keeps each patient in one split.
- ``read_image(path)``: one picture file as a grey picture; ``decode_image``
  is the one decoding path it shares with the web app's ``deploy.preprocess``.
- ``to_model_input(images)``: pictures to the numbers a model takes.

Every loader returns plain NumPy arrays: images are ``uint8`` of shape
(number of images, height, width), 0 = black and 255 = white.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config, download, phantoms, registry
from radkit.errors import RadkitError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp"}
DICOM_SUFFIXES = {".dcm", ".dicom"}
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def _shown_source(source: str) -> str:
    """Where the images came from, as a notebook may show it: a file path relative to the data folders."""
    try:
        is_path = bool(source) and Path(source).exists()
    except (OSError, ValueError):
        is_path = False
    return config.display_path(source) if is_path else source


@dataclass
class ImageDataset:
    """Images and labels split into train, validation and test sets.

    Each of ``train``, ``val`` and ``test`` is a pair ``(images, labels)``.
    ``source`` says in words where the images came from.
    """

    name: str
    source: str
    is_real: bool
    label_names: list[str]
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    extras: dict = field(default_factory=dict)

    def describe(self) -> None:
        """Print which data this is, and how many images of each label each split holds."""
        kind = "REAL patient images" if self.is_real else "PRACTICE phantoms (generated, not real patients)"
        print(f"Data: {self.name} - {kind}")
        print(f"From: {_shown_source(self.source)}")
        size = self.train[0].shape[1:]
        print(f"Image size: {size[0]} x {size[1]} pixels")
        for split in ("train", "val", "test"):
            images, labels = getattr(self, split)
            counts = ", ".join(f"{name} {int(np.sum(labels == i))}" for i, name in enumerate(self.label_names))
            print(f"  {split:5s}: {len(images):5d} images ({counts})")

    def subset(self, train: int | None = None, val: int | None = None, test: int | None = None,
               seed: int = 0, balanced: bool | str | tuple = False) -> "ImageDataset":
        """A smaller copy with at most this many images per split, chosen at random (seeded) and shuffled.

        Each label keeps its share of the split (a 90 % pneumonia split stays 90 % pneumonia), unless
        ``balanced`` is True (every split) or names splits (``balanced="train"``): those get the same
        number of images of each label. Extras that belong to a split (``extras["train_heart_boxes"]``,
        one per image) are cut the same way, so each box or mask stays with its film (notebook 02).
        """
        if isinstance(balanced, str):
            balanced = (balanced,)
        wanted = {"train": train, "val": val, "test": test}
        balance = set(wanted) if balanced is True else set(balanced or ())
        unknown = balance - set(wanted)
        if unknown:
            raise RadkitError(f"balanced={sorted(unknown)} names no split.", "Use 'train', 'val', 'test' or True.")
        rng = np.random.default_rng(seed)
        parts, extras = {}, dict(self.extras)
        for split, n in wanted.items():
            images, labels = getattr(self, split)
            keep = _choose(labels, n, split in balance, rng, split)
            if keep is None:
                parts[split] = (images, labels)
                continue
            parts[split] = (images[keep], labels[keep])
            for key, value in self.extras.items():
                if key.startswith(f"{split}_") and _per_image(value, len(images)):
                    extras[key] = value[keep] if isinstance(value, np.ndarray) else [value[i] for i in keep]
        return ImageDataset(self.name, self.source, self.is_real, self.label_names,
                            parts["train"], parts["val"], parts["test"], extras)


def _per_image(value, n_images: int) -> bool:
    """True when an extra holds one item per image of its split (boxes, masks), so subsets must cut it too."""
    return isinstance(value, (np.ndarray, list, tuple)) and len(value) == n_images


def _choose(labels, n: int | None, balanced: bool, rng, split: str) -> np.ndarray | None:
    """Which images a subset keeps (shuffled), or None to keep the split as it is."""
    labels = np.asarray(labels)
    total = len(labels)
    if n is None and not balanced:
        return None
    n = total if n is None else min(int(n), total)
    if labels.ndim != 1:  # several findings or boxes per image: a plain random choice
        if balanced:
            raise RadkitError(f"The {split} labels are not one label per image, so they cannot be balanced.",
                              "Leave balanced=False for multi-label or box data.")
        return rng.permutation(total)[:n]
    values, counts = np.unique(labels, return_counts=True)
    if balanced:
        per_label = np.full(len(values), min(n // len(values), counts.min()))
    else:  # each label keeps its share; rounding is settled on the commonest label
        per_label = np.floor(n * counts / total).astype(int)
        per_label[np.argmax(counts)] += n - per_label.sum()
    keep = np.concatenate([rng.choice(np.flatnonzero(labels == value), k, replace=False)
                           for value, k in zip(values, per_label)])
    return rng.permutation(keep)


# ---------------------------------------------------------------- single images

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


def to_model_input(images: np.ndarray, size: int | None = None) -> np.ndarray:
    """Turn grey pictures (uint8 0..255) into model input: float32 0..1, shape (N, H, W, 1).

    ``size`` resizes first. A single picture (H, W) is treated as a stack of one.
    """
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise RadkitError(
            f"Expected grey pictures shaped (number, height, width); got shape {images.shape}.",
            "If these are colour pictures (last number 3), convert them to grey first.",
        )
    if size is not None:
        images = resize_images(images.astype(np.uint8) if images.dtype != np.uint8 else images, size)
    scale = 255.0 if images.dtype == np.uint8 or images.max() > 1.0 else 1.0
    return (images.astype(np.float32) / scale)[..., None]


# ---------------------------------------------------------------- MedMNIST

def load_medmnist(path, label_names=None, name=None) -> ImageDataset:
    """Load a MedMNIST ``.npz`` file (any image size) with its train, validation and test splits.

    Labels may be stored as (N,) or (N, 1); both become (N,). Multi-label
    files (N, findings) keep one column per finding.
    """
    path = Path(path)
    if not path.is_file():
        raise RadkitError(f"There is no file at {path}.", "Check the path, or use radkit.download.fetch().")
    try:
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise RadkitError(
            f"{path.name} is not a readable MedMNIST .npz file ({type(error).__name__}); it may be damaged.",
            "Delete it and download it again (radkit fetch), or check you chose the right file.",
        ) from None
    needed = [f"{split}_{kind}" for split in ("train", "val", "test") for kind in ("images", "labels")]
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise RadkitError(
            f"{path.name} does not look like a MedMNIST file: it lacks {', '.join(missing)} "
            f"(it holds {', '.join(arrays) or 'nothing'}).",
            "Use a file from MedMNIST (https://medmnist.com), which stores train_images, train_labels, "
            "val_images, val_labels, test_images and test_labels.",
        )
    splits = {}
    as_uint8 = _array_mapping([arrays[f"{split}_images"] for split in ("train", "val", "test")], path.name)
    for split in ("train", "val", "test"):
        images, labels = as_uint8(arrays[f"{split}_images"]), arrays[f"{split}_labels"]
        if images.ndim == 4:
            images = _grey_from_colour(images, path.name)
        if images.ndim != 3 or len(images) != len(labels):
            raise RadkitError(f"{path.name}: {split} has {len(images)} images of shape {images.shape[1:]} "
                              f"but {len(labels)} labels.", "The file is damaged; download it again.")
        labels = labels.reshape(len(labels), -1)
        splits[split] = (images, labels[:, 0] if labels.shape[1] == 1 else labels)
    key = path.stem.split("_")[0]
    card = registry.DATASETS.get(key)
    if label_names is None:
        label_names = list(card.label_names) if card else [str(v) for v in np.unique(splits["train"][1])]
    return ImageDataset(name or (card.title if card else path.stem), str(path), True, list(label_names),
                        splits["train"], splits["val"], splits["test"])


def _array_mapping(stacks, name: str):
    """How to turn a file's image arrays into uint8, decided once for the whole file (all splits alike).

    uint8 stays; integers up to 255 keep their values; larger integers (16-bit) keep their top
    8 bits, as 16-bit PNGs do (``_sixteen_to_eight``); decimals 0..1 are scaled by 255, 0..255 rounded.
    Nothing wraps around and no image is stretched on its own.
    """
    kind = {s.dtype.kind for s in stacks}
    if kind <= {"u"} and all(s.dtype == np.uint8 for s in stacks):
        return lambda images: images
    if kind <= {"b"}:
        return lambda images: images.astype(np.uint8) * 255
    what = f"The images of {name}"
    if kind <= {"u", "i"}:
        low = min(int(s.min(initial=0)) for s in stacks)
        high = max(int(s.max(initial=0)) for s in stacks)
        if low < 0 or high > 65535:
            raise RadkitError(f"{what}: numbers outside 0..65535 ({low}..{high}), so not grey levels of a picture.",
                              "Save the images as uint8 (0..255) or uint16 (0..65535) grey levels.")
        if high <= 255:
            return lambda images: images.astype(np.uint8)
        print(f"Note: {name} stores {high.bit_length()}-bit grey values (up to {high}); using value // 256, "
              "as for a 16-bit PNG.")
        return lambda images: _sixteen_to_eight(images, what)
    if kind <= {"f"}:
        high = max(float(np.max(s, initial=0)) for s in stacks)
        return lambda images: _float_to_eight(images, what, high)
    raise RadkitError(f"{what} are stored as {sorted(str(s.dtype) for s in stacks)[0]}, not as numbers of a picture.",
                      "Use a MedMNIST file, or save the images as uint8 (0..255).")


# ---------------------------------------------------------------- your own folder

SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test", "testing": "test"}
# File names that carry a patient ID (tried in this order): the Kaggle paediatric chest X-rays
# (person12_virus_44.jpeg, IM-0115-0001.jpeg, NORMAL2-IM-1427-0001.jpeg) and NIH ChestX-ray14 (00001234_002.png).
PATIENT_PATTERNS = (r"^(person\d+)_", r"^(.*IM-\d+)-\d+\.", r"^(\d{5,})_\d+\.")
PATTERN_FIX = r"Put the patient ID in brackets, e.g. pattern=r'^(\d+)_' for 00001234_002.png."


def patient_ids(paths, pattern: str | None = None, csv=None, file_column: str | None = None,
                patient_column: str | None = None, quiet: bool = False) -> np.ndarray:
    """The patient ID of each image file, so that ``ImageFolder.split(groups=...)`` keeps a patient in one split.

    Introduced in notebook 02 ("patient leakage"). Three ways, in this order:

    - ``csv``, ``file_column``, ``patient_column``: a table listing each file name with its patient;
    - ``pattern``: a regular expression whose first group is the ID, searched in each file name,
      e.g. ``r"^(\\d+)_"`` for ``00001234_002.png``;
    - neither: the known naming schemes, ``person12_virus_44.jpeg`` -> ``person12``,
      ``IM-0115-0001.jpeg`` -> ``IM-0115``, ``00001234_002.png`` -> ``00001234``.

    A file whose ID cannot be found counts as its own patient (said in a note, or a warning when no
    file has one, so that a folder of one file per patient still splits).

    >>> folder = radkit.data.load_image_folder("my_xrays")
    >>> mine = folder.split(val=0.15, test=0.15, groups=radkit.data.patient_ids(folder.paths))
    """
    import re

    paths = [Path(p) for p in paths]
    if csv is not None:
        table = _patient_table(Path(csv).expanduser(), file_column, patient_column)
        found = [table.get(p.name) for p in paths]
        how = f"the columns {file_column!r} and {patient_column!r} of {Path(csv).name}"
    else:
        if pattern is not None:
            try:
                patterns = [re.compile(pattern)]
            except re.error as error:
                raise RadkitError(f"pattern={pattern!r} is not a valid regular expression ({error}).",
                                  PATTERN_FIX) from None
            if patterns[0].groups < 1:
                raise RadkitError(f"pattern={pattern!r} has no group in brackets to say which part is the patient ID.",
                                  PATTERN_FIX)
        else:
            patterns = [re.compile(p, re.IGNORECASE) for p in PATIENT_PATTERNS]
        found = []
        for p in paths:
            match = next((m for m in (rx.search(p.name) for rx in patterns) if m), None)
            found.append(match.group(1) if match else None)
        how = f"the pattern {pattern!r}" if pattern else "the file names"
    missing = sum(f is None for f in found)
    # A file without an ID is its own patient; the number keeps normal/1.png and pneumonia/1.png apart.
    ids = np.array([f if f is not None else f"file {i}: {p.name}" for i, (f, p) in enumerate(zip(found, paths))],
                   dtype=object)
    if quiet:
        return ids
    if missing == len(paths) and paths:
        print(f"Warning: no patient ID was found in {how} (e.g. {paths[0].name}), so each file counts as its "
              "own patient. If one patient has several files, give pattern=r'...(ID)...' matching the file "
              "names, or csv=, file_column= and patient_column=.")
    else:
        print(f"Patient IDs from {how}: {len(set(ids))} patients for {len(paths)} files"
              + (f"; {missing} file(s) without an ID each count as their own patient (e.g. "
                 f"{next(p.name for f, p in zip(found, paths) if f is None)})." if missing else "."))
    return ids


def _patient_table(csv: Path, file_column, patient_column) -> dict:
    """{file name: patient ID} from a CSV file."""
    import csv as csv_module

    if not csv.is_file():
        raise RadkitError(f"There is no CSV file at {csv}.", "Check the path of the table of patients.")
    with open(csv, newline="", encoding="utf-8-sig") as handle:
        reader = csv_module.DictReader(handle)
        columns = reader.fieldnames or []
        absent = [c for c in (file_column, patient_column) if c not in columns]
        if absent:
            raise RadkitError(f"{csv.name} has no column {absent[0]!r} (its columns: {', '.join(columns)}).",
                              "Give file_column= and patient_column= as written in the first row of the CSV.")
        return {Path(row[file_column]).name: row[patient_column] for row in reader}


@dataclass
class ImageFolder:
    """Your own images: one picture per file, the sub-folder name is the label.

    ``splits`` says, for a folder arranged as train/, val/ and test/, which of them each image came from
    (None for a folder of label sub-folders only).
    """

    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    paths: list[Path]
    splits: np.ndarray | None = None

    def split(self, val: float = 0.15, test: float = 0.15, seed: int = 0, groups=None) -> ImageDataset:
        """Split into train, validation and test sets, keeping the proportion of each label (notebook 02).

        ``val`` and ``test`` are fractions of the images (``test=0``: no test set).
        ``groups`` gives each image's patient (see ``patient_ids``): all images of a patient then go
        to the same split, so the test set holds only patients the model has never seen.
        A folder with its own train/ and test/ sub-folders keeps them; the validation set is then
        ``val`` of train/ when there is no val/ folder, by patient when the file names say it.
        """
        for name, value in (("val", val), ("test", test)):
            if not 0 <= value < 1:
                raise RadkitError(f"{name}={value} is not a fraction from 0 to 1.", "Write 15 % as 0.15.")
        if val + test >= 1:
            raise RadkitError(f"val={val} and test={test} leave nothing to train on.", "Use e.g. val=0.15, test=0.15.")
        if groups is not None:
            groups = np.asarray(groups, dtype=object)
            if len(groups) != len(self.labels):
                raise RadkitError(f"groups has {len(groups)} patient IDs for {len(self.labels)} images.",
                                  "Give one ID per image, in the order of folder.paths: "
                                  "groups=radkit.data.patient_ids(folder.paths).")
        rng = np.random.default_rng(seed)
        if self.splits is None:
            if groups is None:
                self._suggest_groups()
            where = _assign(self.labels, groups, {"val": val, "test": test}, rng, self.label_names)
        else:
            where = self.splits.astype(object).copy()
            missing = {s: f for s, f in (("val", val), ("test", test)) if not (where == s).any() and f > 0}
            carve = where == "train"
            if groups is None and missing:
                groups = self._detected_groups()
            if groups is not None:
                shared = set(groups[where == "train"]) & set(groups[where == "test"])
                if shared:
                    print(f"Warning: {len(shared)} patient(s) have images in both train/ and test/ "
                          f"(e.g. {sorted(shared)[0]}): the test set is not only new patients.")
            if missing:  # val (and test) as fractions of train/
                where[carve] = _assign(self.labels[carve], None if groups is None else groups[carve],
                                       missing, rng, self.label_names, within="train/")
            kept = ["train/"] + [s + "/" for s in ("val", "test") if s not in missing and (where == s).any()]
            print(f"Kept the folder's own {', '.join(kept[:-1]) + ' and ' + kept[-1] if len(kept) > 1 else kept[0]}"
                  + (f"; {' and '.join(missing)} taken from train/" + (" by patient" if groups is not None else "")
                     if missing else "") + ".")
        pick = lambda s: (self.images[where == s], self.labels[where == s])  # noqa: E731
        root = self.paths[0].parent.parent if self.splits is None else self.paths[0].parent.parent.parent
        return ImageDataset("your own images", str(root), True, self.label_names,
                            pick("train"), pick("val"), pick("test"))

    def _detected_groups(self):
        """Patient IDs from the file names when every file has one, else None."""
        try:
            ids = patient_ids(self.paths, quiet=True)
        except RadkitError:
            return None
        return None if any(str(i).startswith("file ") for i in ids) else ids

    def _suggest_groups(self) -> None:
        ids = self._detected_groups()
        if ids is not None and len(set(ids)) < len(ids):
            print(f"Note: the file names name {len(set(ids))} patients for {len(ids)} images. To keep each patient "
                  "in one split, use split(..., groups=radkit.data.patient_ids(folder.paths)).")


def _assign(labels, groups, fractions: dict, rng, label_names, within: str = "") -> np.ndarray:
    """'train', 'val' or 'test' for each image: each label shared out in proportion, whole patients at a time."""
    labels = np.asarray(labels)
    wanted = [s for s, f in fractions.items() if f > 0]
    where = np.full(len(labels), "train", dtype=object)
    place = f" in {within}" if within else ""
    for index, name in enumerate(label_names):
        n = int(np.sum(labels == index))
        if 0 < n < len(wanted) + 1:
            raise RadkitError(
                f"The label '{name}' has only {n} image(s){place}: too few to put at least one in "
                f"{' and '.join(['train'] + wanted)}.",
                "Add more images of this label (a useful test needs tens of each), or use test=0 "
                "to keep only a validation set.")
    if groups is None:
        for index in range(len(label_names)):
            members = rng.permutation(np.flatnonzero(labels == index))
            start = 0
            for position, split in enumerate(wanted):
                later = len(wanted) - position - 1  # keep one image for each later split and for train
                count = min(max(1, int(round(len(members) * fractions[split]))), len(members) - start - later - 1)
                where[members[start:start + count]] = split
                start += count
        return where
    # Whole patients: go through them in random order (largest first) and give each to the split that
    # is furthest below its share of the patient's labels.
    _, patient_of = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    by_patient = np.argsort(patient_of, kind="stable")
    members = np.split(by_patient, np.cumsum(np.bincount(patient_of))[:-1])
    patients = sorted(rng.permutation(len(members)), key=lambda g: -len(members[g]))
    totals = np.bincount(labels, minlength=len(label_names)).astype(float)
    target = {"train": totals * (1 - sum(fractions.values()))}  # first, so that ties go to train
    target.update({s: totals * f for s, f in fractions.items()})
    have = {s: np.zeros(len(label_names)) for s in target}
    for g in patients:
        counts = np.bincount(labels[members[g]], minlength=len(label_names))
        need = {s: float(np.sum(counts * (target[s] - have[s]) / np.maximum(target[s], 1e-9)))
                for s in target if s == "train" or s in wanted}
        best = max(need, key=need.get)
        have[best] += counts
        where[members[g]] = best
    for split in wanted:
        for index, name in enumerate(label_names):
            if totals[index] and not have[split][index]:
                raise RadkitError(
                    f"Keeping each patient in one split leaves no '{name}' image in {split}{place}: the "
                    f"{int(totals[index])} '{name}' images come from too few patients.",
                    "Add images from more patients, or use test=0 to keep only a validation set.")
    return where


def _image_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The picture files in a folder, and the other (skipped) files."""
    pictures, others = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.lower() in IGNORED_NAMES or path.is_dir():
            continue
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES or suffix in DICOM_SUFFIXES or (suffix == "" and is_dicom(path)):
            pictures.append(path)
        else:
            others.append(path)
    return pictures, others


def _sub_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def load_image_folder(folder, size: int = 64, on_error: str = "raise") -> ImageFolder:
    """Load your own pictures from ``folder``, which holds one sub-folder per label (notebook 02).

    For example ``my_xrays/normal/*.png`` and ``my_xrays/pneumonia/*.dcm``. A folder holding
    ``train/``, ``test/`` and perhaps ``val/``, each with the label sub-folders (the layout of the
    Kaggle chest X-ray sets), keeps those splits: ``.split()`` uses them.
    Every picture is made grey and resized to ``size`` x ``size``.
    ``on_error="skip"`` skips unreadable files (with a note) instead of stopping.
    """
    folder = Path(folder).expanduser()
    layout_fix = (f"Arrange it as {folder}/<label>/<pictures>, for example {folder}/normal/ and "
                  f"{folder}/pneumonia/, with at least one picture in each (or train/ and test/ "
                  "folders, each holding these label folders).")
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the path. " + layout_fix)
    if on_error not in ("raise", "skip"):
        raise RadkitError(f"on_error={on_error!r} is not 'raise' or 'skip'.", "Use on_error='skip' to skip bad files.")
    subs = _sub_folders(folder)
    splits = [p for p in subs if p.name.lower() in SPLIT_FOLDERS]
    if splits and len(splits) < len(subs):
        others = [p.name for p in subs if p not in splits]
        raise RadkitError(f"{folder} mixes split folders ({', '.join(p.name for p in splits)}) with other "
                          f"folders ({', '.join(others)}).", layout_fix)
    if splits:
        if "train" not in {SPLIT_FOLDERS[p.name.lower()] for p in splits}:
            raise RadkitError(f"{folder} has {', '.join(p.name + '/' for p in splits)} but no train/ folder.",
                              layout_fix)
        label_names = sorted({c.name for s in splits for c in _sub_folders(s)})
        parts = [(SPLIT_FOLDERS[s.name.lower()], s) for s in splits]
    else:
        label_names = [c.name for c in subs]
        parts = [(None, folder)]
    if not label_names:
        loose, _ = _image_files(folder)
        problem = (f"{folder} holds pictures directly, without sub-folders, so RadKit cannot tell their labels."
                   if loose else f"{folder} is empty: it has no sub-folders of pictures.")
        raise RadkitError(problem, layout_fix)
    if len(label_names) < 2:
        raise RadkitError(f"{folder} has only one sub-folder of pictures ({label_names[0]}), so only one label.",
                          "A model needs examples of at least two labels to learn the difference. " + layout_fix)
    images, labels, paths, where, skipped, failed = [], [], [], [], [], []
    for split, part in parts:
        for class_folder in _sub_folders(part):
            pictures, others = _image_files(class_folder)
            skipped += others
            if not pictures and split is None:
                nested = any(p.is_dir() for p in class_folder.iterdir())
                raise RadkitError(
                    f"The sub-folder {class_folder.name}/ has no pictures (PNG, JPEG, DICOM, ...)"
                    + (" - its pictures seem to be one folder further down." if nested else "."),
                    layout_fix)
            for path in pictures:
                try:
                    picture = read_image(path)
                except RadkitError as error:
                    if on_error != "skip":
                        raise
                    failed.append(path)
                    print(f"Skipped {path.name}: {error.problem}")
                    continue
                images.append(resize_images(picture[None], size)[0])
                labels.append(label_names.index(class_folder.name))
                paths.append(path)
                where.append(split)
    if skipped:
        print(f"Note: {len(skipped)} file(s) that are not pictures were ignored, e.g. {skipped[0].name}.")
    if not images:
        raise RadkitError(f"No picture in {folder} could be read ({len(failed)} skipped).", layout_fix)
    if splits:
        counts = {s: where.count(s) for s in ("train", "val", "test") if s in where}
        print("Found the folder's own splits: " + ", ".join(f"{s}/ {n} images" for s, n in counts.items()) + ".")
    return ImageFolder(np.stack(images), np.array(labels), label_names, paths,
                       np.array(where, dtype=object) if splits else None)


# ---------------------------------------------------------------- the course's chest X-rays

def load_phantom_chest(size: int = 64, n_train: int = 3000, n_val: int = 500, n_test: int = 600,
                       seed: int = 0) -> ImageDataset:
    """Generated practice chest X-rays (see radkit.phantoms), split into train, validation and test."""
    parts = [phantoms.chest_xrays(n, size=size, seed=seed + offset)
             for n, offset in ((n_train, 0), (n_val, 1000), (n_test, 2000))]
    extras = {f"{split}_{key}": part[key] for split, part in zip(("train", "val", "test"), parts)
              for key in ("heart_boxes", "lung_masks", "opacity_masks")}
    return ImageDataset("RadKit chest phantoms", "generated on this computer by radkit.phantoms", False,
                        list(phantoms.CHEST_LABELS), *((p["images"], p["labels"]) for p in parts), extras=extras)


def _find_medmnist(key: str, size: int) -> tuple[Path, str]:
    """Find or download a MedMNIST file: the requested size, else another size already on this computer."""
    try:
        return download.fetch(key, size), ""
    except RadkitError as error:
        reason = error.problem
    card = registry.get(key)
    for other in sorted(card.files, key=lambda s: abs(s - size)):
        if other != size and download.stored_copy(key, card.files[other].name) is not None:
            # fetch finds the same stored copy (never downloads it) and says if it is unverified
            return download.fetch(key, other), f"{size} px was not available ({reason}); using the {other} px copy"
    raise RadkitError(reason)


def load_pneumonia(size: int = 64, source: str = "auto", seed: int = 0) -> ImageDataset:
    """Chest X-rays labelled normal or pneumonia, ``size`` x ``size`` pixels.

    ``source="auto"`` uses real PneumoniaMNIST when it is on this computer or
    can be downloaded, and the practice phantoms otherwise; ``"real"`` insists
    on real data; ``"phantom"`` always uses phantoms. In fast mode the splits
    are cut down (at random, each label keeping its share) so that notebooks
    run in a couple of minutes.
    """
    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'real', 'phantom'.", "Use source='auto'.")
    data, reason = None, "you asked for phantoms"
    if source != "phantom":
        try:
            path, note = _find_medmnist("pneumoniamnist", size)
            data = load_medmnist(path)
            if note:
                print(f"Note: {note}, resized to {size} px.")
        except RadkitError as error:
            if source == "real":
                raise
            reason = error.problem
    if data is None:
        print(f"Using the built-in PRACTICE images (phantoms), because: {reason}")
        data = load_phantom_chest(size, *config.pick((3000, 500, 600), (600, 200, 300)), seed=seed)
    elif data.train[0].shape[1] != size:
        data = ImageDataset(data.name, data.source, True, data.label_names,
                            *((resize_images(x, size), y) for x, y in (data.train, data.val, data.test)))
    if config.fast_mode():
        # Big enough to learn in a few epochs, with each label's share kept: smaller, never different.
        # (The shared training file is sorted by label: a subset must be chosen at random, and shuffled.)
        data = data.subset(train=1000, val=200, test=300, seed=seed)
    return data
