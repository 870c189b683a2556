"""Load images for the course: real datasets when possible, practice phantoms otherwise.

Introduced in notebook 00_start_here and used from notebook 02 on.

- ``load_pneumonia(size)``: PneumoniaMNIST chest X-rays, or phantoms offline.
- ``load_medmnist(path)``: any MedMNIST ``.npz`` file.
- ``load_image_folder(folder)``: your own images, one sub-folder per class
  (PNG, JPEG and DICOM may be mixed).
- ``read_image(path)``: one PNG, JPEG or DICOM file as a grey picture.
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

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
DICOM_SUFFIXES = {".dcm", ".dicom"}
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


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
        print(f"From: {self.source}")
        size = self.train[0].shape[1:]
        print(f"Image size: {size[0]} x {size[1]} pixels")
        for split in ("train", "val", "test"):
            images, labels = getattr(self, split)
            counts = ", ".join(f"{name} {int(np.sum(labels == i))}" for i, name in enumerate(self.label_names))
            print(f"  {split:5s}: {len(images):5d} images ({counts})")

    def subset(self, train: int | None = None, val: int | None = None, test: int | None = None,
               seed: int = 0) -> "ImageDataset":
        """A smaller copy with at most this many images per split (chosen at random, seeded)."""
        rng = np.random.default_rng(seed)

        def take(pair, n):
            if n is None or n >= len(pair[0]):
                return pair
            keep = np.sort(rng.choice(len(pair[0]), n, replace=False))
            return pair[0][keep], pair[1][keep]

        return ImageDataset(self.name, self.source, self.is_real, self.label_names,
                            take(self.train, train), take(self.val, val), take(self.test, test), self.extras)


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


def _to_grey(pixels: np.ndarray, path: Path, has_channels: bool) -> np.ndarray:
    """Colour pictures whose three channels are equal are grey in disguise; true colour is refused.

    ``has_channels`` says the last axis holds colour channels (RGB or RGBA).
    """
    if has_channels:
        rgb = pixels[..., :3].astype(np.int16)
        if np.abs(rgb - rgb[..., :1]).max() > 8:
            raise RadkitError(
                f"{path.name} is a colour image, but a grey (black-and-white) image was expected.",
                "Use the greyscale export of the image (radiographs, CT and MRI are grey), or convert it "
                "first, for example with PIL: Image.open(path).convert('L').",
            )
        pixels = rgb[..., 0]
    if pixels.dtype != np.uint8:  # e.g. 16-bit PNG: stretch to 0..255
        pixels = pixels.astype(np.float64)
        low, high = pixels.min(), pixels.max()
        pixels = (pixels - low) / (high - low if high > low else 1) * 255
    return pixels.astype(np.uint8)


def read_image(path) -> np.ndarray:
    """Read one PNG, JPEG or DICOM file as a grey picture (uint8, height x width)."""
    path = Path(path)
    if not path.is_file():
        raise RadkitError(f"There is no file at {path}.", "Check the spelling of the path and that the file exists.")
    if is_dicom(path):
        from radkit import dicom

        return dicom.load_image(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.load()
            if picture.mode == "P":
                picture = picture.convert("RGB")
            pixels = np.asarray(picture)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise RadkitError(
            f"{path.name} could not be read as an image ({type(error).__name__}); it may be damaged or "
            "not really a picture (for example a text file renamed to .png).",
            f"Open it in an image viewer to check, then replace or remove it: {path}",
        ) from None
    return _to_grey(pixels, path, has_channels=pixels.ndim == 3)


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
    for split in ("train", "val", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim == 4:
            images = _to_grey(images, path, has_channels=True)
        if images.ndim != 3 or len(images) != len(labels):
            raise RadkitError(f"{path.name}: {split} has {len(images)} images of shape {images.shape[1:]} "
                              f"but {len(labels)} labels.", "The file is damaged; download it again.")
        labels = labels.reshape(len(labels), -1)
        splits[split] = (images.astype(np.uint8), labels[:, 0] if labels.shape[1] == 1 else labels)
    key = path.stem.split("_")[0]
    card = registry.DATASETS.get(key)
    if label_names is None:
        label_names = list(card.label_names) if card else [str(v) for v in np.unique(splits["train"][1])]
    return ImageDataset(name or (card.title if card else path.stem), str(path), True, list(label_names),
                        splits["train"], splits["val"], splits["test"])


# ---------------------------------------------------------------- your own folder

@dataclass
class ImageFolder:
    """Your own images: one picture per file, the sub-folder name is the label."""

    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    paths: list[Path]

    def split(self, val: float = 0.15, test: float = 0.15, seed: int = 0) -> ImageDataset:
        """Split at random into train, validation and test sets (stratified by label).

        Careful: if one patient has several images, put all of them in the same
        split (see notebook 02, "patient leakage"); a random split cannot know.
        """
        from sklearn.model_selection import train_test_split

        index = np.arange(len(self.labels))
        rest, test_index = train_test_split(index, test_size=test, stratify=self.labels, random_state=seed)
        train_index, val_index = train_test_split(rest, test_size=val / (1 - test),
                                                  stratify=self.labels[rest], random_state=seed)
        pick = lambda idx: (self.images[idx], self.labels[idx])  # noqa: E731
        return ImageDataset("your own images", str(self.paths[0].parent.parent), True, self.label_names,
                            pick(train_index), pick(val_index), pick(test_index))


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


def load_image_folder(folder, size: int = 64, on_error: str = "raise") -> ImageFolder:
    """Load your own pictures from ``folder``, which holds one sub-folder per label.

    For example ``my_xrays/normal/*.png`` and ``my_xrays/pneumonia/*.dcm``.
    Every picture is made grey and resized to ``size`` x ``size``.
    ``on_error="skip"`` skips unreadable files (with a note) instead of stopping.
    """
    folder = Path(folder).expanduser()
    layout_fix = (f"Arrange it as {folder}/<label>/<pictures>, for example {folder}/normal/ and "
                  f"{folder}/pneumonia/, with at least one picture in each.")
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the path. " + layout_fix)
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose, _ = _image_files(folder)
    if not classes:
        problem = (f"{folder} holds pictures directly, without sub-folders, so RadKit cannot tell their labels."
                   if loose else f"{folder} is empty: it has no sub-folders of pictures.")
        raise RadkitError(problem, layout_fix)
    if len(classes) < 2:
        raise RadkitError(f"{folder} has only one sub-folder ({classes[0].name}), so only one label.",
                          "A model needs examples of at least two labels to learn the difference. " + layout_fix)
    images, labels, paths, skipped = [], [], [], []
    for label, class_folder in enumerate(classes):
        pictures, others = _image_files(class_folder)
        skipped += others
        if not pictures:
            nested = any(p.is_dir() for p in class_folder.iterdir())
            raise RadkitError(
                f"The sub-folder {class_folder.name}/ has no pictures (PNG, JPEG or DICOM)"
                + (" - its pictures seem to be one folder further down." if nested else "."),
                layout_fix)
        for path in pictures:
            try:
                picture = read_image(path)
            except RadkitError as error:
                if on_error != "skip":
                    raise
                print(f"Skipped {path.name}: {error.problem}")
                continue
            images.append(resize_images(picture[None], size)[0])
            labels.append(label)
            paths.append(path)
    if skipped:
        print(f"Note: {len(skipped)} file(s) that are not pictures were ignored, e.g. {skipped[0].name}.")
    return ImageFolder(np.stack(images), np.array(labels), [c.name for c in classes], paths)


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
    are cut down so that notebooks run in a couple of minutes.
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
        data = data.subset(train=600, val=200, test=300, seed=seed)
    return data
