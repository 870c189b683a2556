"""The course's detection data: NIH heart boxes and BCCD blood smears, with phantoms offline (notebook 07)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config
from radkit.errors import RadkitError
from radkit.boxes.formats import clip, load_boxes
from radkit.boxes.measure import box_of_mask, count_objects, read_pictures


# ---------------------------------------------------------------- the course's detection data

@dataclass
class BoxDataset:
    """Pictures with their boxes, split into train, validation and test, each ``(images, boxes)`` (notebook 07).

    For the heart, ``boxes`` is (N, 4): one box per film. For cells it is a list
    with one (n, 4) array per smear, and ``labels`` holds their classes.
    ``info`` keeps per-picture facts (file, patient, view, thorax box) split the same way.
    """

    name: str
    source: str
    is_real: bool
    class_names: list[str]
    train: tuple
    val: tuple
    test: tuple
    labels: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def describe(self) -> None:
        """Print which data this is and how many pictures and boxes each split holds."""
        kind = "REAL patient images" if self.is_real else "PRACTICE phantoms (generated, not real patients)"
        print(f"Data: {self.name} - {kind}\nFrom: {self.source}")
        print(f"Picture size: {self.train[0].shape[1]} x {self.train[0].shape[2]} pixels (height x width)")
        for split in ("train", "val", "test"):
            images, boxes = getattr(self, split)
            n_boxes = sum(len(b) for b in boxes) if isinstance(boxes, list) else len(boxes)
            print(f"  {split:5s}: {len(images):4d} pictures, {n_boxes:5d} boxes")


def _split_by_group(groups, fractions=(0.6, 0.2), seed: int = 0):
    """Positions of train, val and test, with every picture of one patient in the same split."""
    rng = np.random.default_rng(seed)
    unique = rng.permutation(np.unique(groups))
    cut1, cut2 = int(round(len(unique) * fractions[0])), int(round(len(unique) * sum(fractions)))
    parts = (unique[:cut1], unique[cut1:cut2], unique[cut2:])
    return [np.flatnonzero(np.isin(groups, part)) for part in parts]


def _heart_images(listed):
    """The folder of the heart films: beside the box list, or a cxr_heart_boxes/images/ folder in RADKIT_LOCAL_DATA
    or the data folder (where a download of the NIH films one by one puts them)."""
    if listed is None:
        return None
    places = [listed.parent / "images"]
    for getter in (config.local_data_dir, config.data_dir):
        try:
            place = getter()
        except RadkitError:
            continue
        if place is not None:
            places.append(place / "cxr_heart_boxes" / "images")
    return next((p for p in places if p.is_dir() and any(p.iterdir())), None)


def load_heart_boxes(size: int = 128, source: str = "auto", seed: int = 0) -> BoxDataset:
    """Chest films with a box around the heart: the NIH radiologists' boxes when available, phantoms otherwise (notebook 07).

    The real set is 146 NIH ChestX-ray14 films boxed for *Cardiomegaly*, so every
    heart in it is enlarged. It is split by patient (60/20/20 %), never film by
    film. Pictures are resized to ``size`` pixels and the boxes scaled with them.
    ``info`` holds ``files``, ``patients``, ``views`` (AP or PA) and, for phantoms,
    ``thorax_boxes`` (the box around both lungs).
    """
    from radkit import download, phantoms

    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'real', 'phantom'.", "Use source='auto'.")
    folder, reason = None, "source='phantom' asks for them"
    if source != "phantom":
        listed = download.stored_copy("cxr_heart_boxes", "BBox_List_Cardiomegaly.csv")
        images_folder = _heart_images(listed)
        if images_folder is not None:
            folder = listed.parent
        elif source == "real":
            raise RadkitError("The NIH heart boxes (cxr_heart_boxes/BBox_List_Cardiomegaly.csv with images/) are "
                              "not on this computer.", "See radkit.registry.get('nih_heart_boxes').notes.")
        else:
            reason = "the NIH heart boxes are not on this computer (see radkit.registry.get('nih_heart_boxes'))"
    if folder is None:
        print(f"Using PRACTICE chest films (phantoms), because {reason}.")
        films = phantoms.chest_xrays(config.pick(600, 240), size=size, seed=seed)
        thorax = np.stack([box_of_mask(m) for m in films["lung_masks"]])
        n = len(films["images"])
        parts = _split_by_group(np.arange(n), seed=seed)
        info = {"views": np.array(["PA"] * n), "patients": np.arange(n), "thorax_boxes": thorax,
                "files": np.array([f"phantom_{i:04d}" for i in range(n)])}
        name, where, real, images, boxes = ("RadKit chest phantoms", "generated on this computer by radkit.phantoms",
                                            False, films["images"], films["heart_boxes"])
    else:
        table = load_boxes(folder / "BBox_List_Cardiomegaly.csv", images=images_folder)
        images, listed_boxes = read_pictures(table, images_folder, size=size)
        boxes = np.concatenate(listed_boxes)
        facts = {}
        with open(folder / "Data_Entry_subset.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                facts[row["Image Index"]] = row
        info = {"files": np.array(table.files),
                "patients": np.array([int(facts[f]["Patient ID"]) for f in table.files]),
                "views": np.array([facts[f]["View Position"] for f in table.files]),
                "ages": np.array([int(facts[f]["Patient Age"]) for f in table.files]),
                "sexes": np.array([facts[f]["Patient Gender"] for f in table.files])}
        parts = _split_by_group(info["patients"], seed=seed)
        name, where, real = ("NIH ChestX-ray14 heart boxes (Cardiomegaly)",
                             "NIH Clinical Center, BBox_List_2017 (Wang et al., CVPR 2017)", True)
    split = {k: v for k, v in zip(("train", "val", "test"), parts)}
    return BoxDataset(name, where, real, ["heart"], *((images[i], boxes[i]) for i in parts),
                      info={s: {k: v[i] for k, v in info.items()} for s, i in split.items()})


BLOOD_CLASSES = ["RBC", "WBC", "Platelets"]


# Stain colours (red, green, blue in 0..1) of a practice smear, from dark to light: what a Wright-Giemsa stain
# makes of nuclei and platelets (purple), red cells (pink) and the background (pale).
_STAIN = np.array([[0.30, 0.15, 0.50], [0.55, 0.35, 0.65], [0.85, 0.50, 0.55], [0.93, 0.88, 0.86]], np.float32)
_STAIN_LEVELS = np.array([0.25, 0.40, 0.65, 0.85], np.float32)


def phantom_smears(n: int, size=(120, 160), seed: int = 0, colour: bool = False) -> tuple[np.ndarray, list, list]:
    """Draw ``n`` practice blood smears: pale red cells, a few large dark-nucleus white cells, small platelets.

    Returns pictures (n, height, width) uint8 (``colour=True``: (n, height, width, 3), coloured like a stained
    smear), boxes per picture and labels per picture (0 RBC, 1 WBC, 2 platelet).
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    height, width = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pictures, all_boxes, all_labels = [], [], []
    for _ in range(n):
        image = np.full(size, 0.82, np.float32)
        boxes, labels = [], []
        plan = [1] * rng.integers(0, 3) + [2] * rng.integers(0, 4) + [0] * rng.integers(6, 16)
        # Cells lie side by side, as on a well-spread smear: a new cell may touch the others but not hide
        # under them (a box around a cell nobody can see would teach the detector to guess).
        placed = []   # (label, centre x, centre y, radius)
        for label in plan:
            radius = {0: rng.uniform(8, 11), 1: rng.uniform(14, 19), 2: rng.uniform(2.5, 4)}[label] * height / 120
            for _ in range(30):
                cx, cy = rng.uniform(0, width), rng.uniform(0, height)
                if all((cx - px) ** 2 + (cy - py) ** 2 >= (0.95 * (radius + pr)) ** 2 for _, px, py, pr in placed):
                    placed.append((label, cx, cy, radius))
                    break
        for label, cx, cy, radius in sorted(placed, key=lambda cell: cell[0] != 0):   # red cells first, below
            disc = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
            if label == 0:
                image[disc] = 0.62
                image[(x - cx) ** 2 + (y - cy) ** 2 <= (0.45 * radius) ** 2] = 0.72  # central pallor
            elif label == 1:
                image[disc] = 0.7
                for _ in range(3):  # lobed nucleus
                    ox, oy = rng.normal(0, radius / 3, 2)
                    image[disc & ((x - cx - ox) ** 2 + (y - cy - oy) ** 2 <= (0.4 * radius) ** 2)] = 0.25
            else:
                image[disc] = 0.35
            box = clip([[cx - radius, cy - radius, cx + radius, cy + radius]], size)[0]
            if (box[2:] - box[:2] >= 2).all():
                boxes.append(box)
                labels.append(label)
        image = np.clip(ndimage.gaussian_filter(image, 0.8) + rng.normal(0, 0.02, size).astype(np.float32), 0, 1)
        if colour:
            image = np.stack([np.interp(image, _STAIN_LEVELS, _STAIN[:, c]) for c in range(3)], axis=-1)
        pictures.append((image * 255).astype(np.uint8))
        all_boxes.append(np.array(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.array(labels, int))
    return np.stack(pictures), all_boxes, all_labels


def load_blood_cells(size=(240, 320), source: str = "auto", seed: int = 0, colour: bool = True) -> BoxDataset:
    """Blood smears with boxes around red cells, white cells and platelets: BCCD when available, phantoms otherwise (notebook 07).

    BCCD's own train/val/test lists are used. Pictures (640 x 480 colour) become
    ``size`` (height, width) pixels, with their boxes scaled, in colour
    (N, H, W, 3): the stain is what tells a platelet from a speck
    (``colour=False`` gives grey, (N, H, W)); ``info``
    keeps each smear's file name and its boxes in the original 640 x 480 pixels.
    Two BCCD boxes of zero size are skipped (flaws of the published set).
    """
    from radkit import download

    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'real', 'phantom'.", "Use source='auto'.")
    root, reason = None, "source='phantom' asks for them"
    if source != "phantom":
        readme = download.stored_copy("bccd", "BCCD/ImageSets/Main/test.txt")
        if readme is not None:
            root = readme.parents[2]
        elif source == "real":
            raise RadkitError("BCCD is not on this computer.", "Run `radkit fetch bccd` once while online (about 8 MB).")
        else:
            reason = "BCCD is not on this computer (`radkit fetch bccd` downloads it once)"
    if root is None:
        print(f"Using PRACTICE blood smears (phantoms), because {reason}.")
        counts = config.pick((240, 60, 60), (240, 30, 30))   # 240 to learn from in both modes: 15 steps an epoch
        splits, labels, info = [], {}, {}
        for split, n, offset in zip(("train", "val", "test"), counts, (0, 1000, 2000)):
            pictures, boxes, classes = phantom_smears(n, size, seed=seed + offset, colour=colour)
            splits.append((pictures, boxes))
            labels[split] = classes
            info[split] = {"files": np.array([f"smear_{offset + i:04d}" for i in range(n)]), "original_boxes": boxes,
                           "original_size": size}
        return BoxDataset("RadKit blood smear phantoms", "generated on this computer by radkit.boxes", False,
                          list(BLOOD_CLASSES), *splits, labels=labels, info=info)
    table = load_boxes(root / "Annotations", class_names=BLOOD_CLASSES, on_error="skip")
    position = {Path(f).stem: i for i, f in enumerate(table.files)}
    splits, labels, info = [], {}, {}
    for split in ("train", "val", "test"):
        names = (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        part = table.select([position[n] for n in names if n in position])
        pictures, boxes = read_pictures(part, root / "JPEGImages", size=size, colour=colour)
        splits.append((pictures, boxes))
        labels[split] = part.labels
        info[split] = {"files": np.array(part.files), "original_boxes": part.boxes,
                       "original_size": tuple(int(v) for v in part.sizes[0])}
    return BoxDataset("BCCD blood cell detection", "github.com/Shenggan/BCCD_Dataset (MIT)", True,
                      list(BLOOD_CLASSES), *splits, labels=labels, info=info)


def choose_count_thresholds(found, truth_counts, candidates=np.arange(0.05, 0.95, 0.05)) -> np.ndarray:
    """For each class, the confidence threshold whose counts are closest to the truth (notebook 07).

    Closest means the fewest cells miscounted per picture on average (not the
    percentage: a picture with 2 labelled cells would weigh as much as ten
    full ones). When several thresholds are equally close, the middle one of
    them is taken: the lowest would count any faint speck the validation
    pictures happened not to have, the highest would drop any faint real cell.
    ``found`` holds one ``(boxes, labels, scores)`` per picture,
    ``truth_counts`` the true counts (pictures, classes). Use validation
    pictures, never the test ones.
    """
    truth_counts = np.asarray(truth_counts)
    labels, scores = [f[1] for f in found], [f[2] for f in found]
    candidates = np.asarray(candidates, dtype=float)
    counted = np.stack([count_objects(labels, truth_counts.shape[1], scores, t) for t in candidates])
    errors = np.abs(counted - truth_counts).mean(axis=1)  # (candidates, classes): objects miscounted per picture
    chosen = []
    for per_class in errors.T:
        best = np.flatnonzero(np.isclose(per_class, per_class.min(), rtol=0, atol=1e-9))
        chosen.append(candidates[best[(len(best) - 1) // 2]])
    return np.array(chosen)
