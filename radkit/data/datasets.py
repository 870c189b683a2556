"""Datasets as plain arrays: MedMNIST files, PneumoniaMNIST (real when possible, phantoms otherwise).
Introduced in notebook 00_start_here and used from notebook 02 on.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config, download, phantoms, registry
from radkit.errors import RadkitError

from radkit.data.images import _float_to_eight, _grey_from_colour, _sixteen_to_eight, resize_images


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
        print(f"Situation: {config.SITUATIONS[config.data_situation()]}")
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


# The share of pneumonia films in each split: 90 % of the training films, as in the data pack's copy of
# PneumoniaMNIST; 74 % and 62.5 % of the validation and test films, as in its official splits. Pneumonia is the
# common label, so the practice films teach what the real ones do about class weights (notebook 03).
PHANTOM_PREVALENCE = {"train": 0.9, "val": 0.74, "test": 0.625}


def load_phantom_chest(size: int = 64, n_train: int = 3000, n_val: int = 500, n_test: int = 600,
                       seed: int = 0) -> ImageDataset:
    """Generated practice chest X-rays (see radkit.phantoms), split into train, validation and test.

    Each split has PneumoniaMNIST's share of pneumonia films (``PHANTOM_PREVALENCE``), so that the
    lessons about imbalance, class weights and prevalence hold on the phantoms too.
    """
    parts = [phantoms.chest_xrays(n, size=size, prevalence=PHANTOM_PREVALENCE[split], seed=seed + offset)
             for split, n, offset in (("train", n_train, 0), ("val", n_val, 1000), ("test", n_test, 2000))]
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
        data = load_phantom_chest(size, *config.pick((3000, 500, 600), (1000, 200, 300)), seed=seed)
    elif data.train[0].shape[1] != size:
        data = ImageDataset(data.name, data.source, True, data.label_names,
                            *((resize_images(x, size), y) for x, y in (data.train, data.val, data.test)))
    if config.fast_mode():
        # Big enough to learn in a few epochs, with each label's share kept: smaller, never different.
        # (The shared training file is sorted by label: a subset must be chosen at random, and shuffled.)
        data = data.subset(train=1000, val=200, test=300, seed=seed)
    return data
