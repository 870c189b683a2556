"""Your own images: a folder with one sub-folder per label (or train/, val/, test/), and splits that
keep each patient in one split. Introduced in notebook 02.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

from radkit.data.images import DICOM_SUFFIXES, IGNORED_NAMES, IMAGE_SUFFIXES, is_dicom, read_image, resize_images
from radkit.data.datasets import ImageDataset


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


def folder_files(folder) -> "FolderFiles":
    """The picture files of your folder with their labels and splits, without reading any (notebook 02).

    The same layouts as ``load_image_folder``, checked the same way.
    """
    folder = Path(folder).expanduser()
    layout_fix = (f"Arrange it as {folder}/<label>/<pictures>, for example {folder}/normal/ and "
                  f"{folder}/pneumonia/, with at least one picture in each (or train/ and test/ "
                  "folders, each holding these label folders).")
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the path. " + layout_fix)
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
    files, skipped = [], []
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
            files += [(path, class_folder.name, split) for path in pictures]
    return FolderFiles(label_names, files, skipped, layout_fix, bool(splits))


@dataclass
class FolderFiles:
    """The picture files of a folder, before any is read: (path, label name, split or None) for each."""

    label_names: list[str]
    files: list[tuple[Path, str, str | None]]
    skipped: list[Path]
    layout_fix: str
    has_splits: bool


def _read_resized(path: Path, size: int):
    """(the picture at ``path`` resized to ``size``, None), or (None, the RadkitError saying why it cannot be read)."""
    try:
        return resize_images(read_image(path)[None], size)[0], None
    except RadkitError as error:
        return None, error


def load_image_folder(folder, size: int = 64, on_error: str = "raise") -> ImageFolder:
    """Load your own pictures from ``folder``, which holds one sub-folder per label (notebook 02).

    For example ``my_xrays/normal/*.png`` and ``my_xrays/pneumonia/*.dcm``. A folder holding
    ``train/``, ``test/`` and perhaps ``val/``, each with the label sub-folders (the layout of the
    Kaggle chest X-ray sets), keeps those splits: ``.split()`` uses them.
    Every picture is made grey and resized to ``size`` x ``size``.
    ``on_error="skip"`` skips unreadable files (with a note) instead of stopping.
    """
    if on_error not in ("raise", "skip"):
        raise RadkitError(f"on_error={on_error!r} is not 'raise' or 'skip'.", "Use on_error='skip' to skip bad files.")
    found = folder_files(folder)
    label_names, skipped, layout_fix = found.label_names, found.skipped, found.layout_fix
    folder = Path(folder).expanduser()
    images, labels, paths, where, failed = [], [], [], [], []
    # Each picture is resized as soon as it is read, so full-size films never fill the memory; several are read
    # at once (Pillow decodes outside Python's lock), in the folder's order.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        read = pool.map(lambda file: _read_resized(file[0], size), found.files)
        for (path, label, split), (picture, error) in zip(found.files, read):
            if error is not None:
                if on_error != "skip":
                    raise error
                failed.append(path)
                print(f"Skipped {path.name}: {error.problem}")
                continue
            images.append(picture)
            labels.append(label_names.index(label))
            paths.append(path)
            where.append(split)
    if skipped:
        print(f"Note: {len(skipped)} file(s) that are not pictures were ignored, e.g. {skipped[0].name}.")
    if not images:
        raise RadkitError(f"No picture in {folder} could be read ({len(failed)} skipped).", layout_fix)
    if found.has_splits:
        counts = {s: where.count(s) for s in ("train", "val", "test") if s in where}
        print("Found the folder's own splits: " + ", ".join(f"{s}/ {n} images" for s, n in counts.items()) + ".")
    return ImageFolder(np.stack(images), np.array(labels), label_names, paths,
                       np.array(where, dtype=object) if found.has_splits else None)
