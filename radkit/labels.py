"""Several findings per film: label CSVs, multi-hot arrays, finding names, splits by patient.

Introduced in notebook 06_multilabel_and_unlabelled_data, used again in 10_responsible_ai.

- ``read_label_csv`` - a CSV of labels beside a folder of images, in either form clinicians meet:
  one column holding several findings (NIH's ``Effusion|Pneumonia``) or one 0/1 column per finding;
- ``multi_hot`` - finding strings to a 0/1 array, one column per finding;
- ``load_films`` - read the images a table names, grey and resized;
- ``split_by_patient`` / ``check_patient_split`` - every film of a patient in one split only;
- ``load_nih_subset`` - the shared NIH ChestX-ray14 films, or phantoms with several findings offline;
- ``load_chestmnist`` - ChestMNIST (the NIH films at 28 px, 14 findings) when it is on this computer;
- ``agreement`` - two sets of labels for the same films (report-mined against radiologists).

A multi-hot array has one row per film and one column per finding: 1 where the
finding is present. A film with "No Finding" is a row of zeros.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config, download, phantoms
from radkit.errors import RadkitError

NO_FINDING = "No Finding"
# ChestX-ray14's 14 findings, spelled as in its Data_Entry_2017.csv.
NIH_FINDINGS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
# Column names of the NIH table, and what we call them.
NIH_COLUMNS = {"image": "Image Index", "findings": "Finding Labels", "patient": "Patient ID",
               "age": "Patient Age", "sex": "Patient Gender", "view": "View Position"}
YES, NO = {"1", "yes", "true", "y"}, {"0", "no", "false", "n"}


def _key(name: str) -> str:
    """How findings are compared: case, spaces, '_' and '-' do not matter (Pleural_Thickening = pleural thickening)."""
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


@dataclass
class LabelTable:
    """Films and their findings: ``names`` (file names), ``labels`` (N, findings) 0/1, ``findings``, ``info``.

    ``info`` keeps the other columns a clinician needs for subgroups and splits,
    one array each: ``patient``, ``age``, ``sex``, ``view`` (whichever the CSV has).
    """

    names: list[str]
    labels: np.ndarray
    findings: list[str]
    info: dict = field(default_factory=dict)
    folder: Path | None = None

    def __len__(self) -> int:
        return len(self.names)

    def column(self, finding: str) -> np.ndarray:
        """The 0/1 labels of one finding (spelling as in ``findings``; case and '_' do not matter)."""
        keys = [_key(f) for f in self.findings]
        if _key(finding) not in keys:
            raise RadkitError(f"There is no finding called {finding!r}.", f"Choose one of: {', '.join(self.findings)}.")
        return self.labels[:, keys.index(_key(finding))]

    def counts(self) -> dict:
        """How many films show each finding."""
        return {f: int(n) for f, n in zip(self.findings, self.labels.sum(axis=0))}


def multi_hot(finding_strings, findings=None, separator: str = "|", none_label: str = NO_FINDING):
    """Finding strings such as ``"Effusion|Pneumonia"`` to a 0/1 array, one column per finding (notebook 06).

    ``findings`` fixes the columns and their order (default: every finding met, sorted).
    ``none_label`` ("No Finding") means a film with none of them. Returns ``(array, findings)``.
    An empty label, or one finding spelled two ways, is refused: both would silently
    turn into wrong training labels.

    >>> multi_hot(["Effusion|Pneumonia", "No Finding"])[0]
    array([[1, 1], [0, 0]], dtype=uint8)
    """
    strings = [str(s) if s is not None else "" for s in finding_strings]
    split = []
    spellings: dict[str, set] = {}
    for row, text in enumerate(strings, start=1):
        parts = [p.strip() for p in text.split(separator)]
        if not text.strip() or any(not p for p in parts):
            raise RadkitError(
                f"Row {row} has an empty label ({text!r}): RadKit cannot tell whether the film is normal or "
                "was never labelled.",
                f"Write {none_label!r} for a film with no finding, or leave the film out of the table.")
        parts = [p for p in parts if _key(p) != _key(none_label)] if none_label else parts
        for p in parts:
            spellings.setdefault(_key(p), set()).add(p)
        split.append(parts)
    twice = {k: sorted(v) for k, v in spellings.items() if len(v) > 1}
    if twice:
        example = next(iter(twice.values()))
        raise RadkitError(
            f"A finding is spelled in more than one way: {' / '.join(repr(s) for s in example)}"
            + (f" (and {len(twice) - 1} more)" if len(twice) > 1 else "")
            + ". They would become separate findings, each with half the films.",
            "Spell each finding one way throughout the CSV (find and replace in a spreadsheet), then load it again.")
    if findings is None:
        findings = sorted({next(iter(v)) for v in spellings.values()})
    findings = list(findings)
    column = {_key(f): i for i, f in enumerate(findings)}
    unknown = sorted({p for parts in split for p in parts if _key(p) not in column})
    if unknown:
        raise RadkitError(f"The labels name finding(s) not in the list of findings: {', '.join(unknown[:5])}.",
                          f"Use only these findings: {', '.join(findings)}, or leave findings=None.")
    array = np.zeros((len(split), len(findings)), dtype=np.uint8)
    for row, parts in enumerate(split):
        for p in parts:
            array[row, column[_key(p)]] = 1
    return array, findings


def _yes_no(values, column: str) -> np.ndarray:
    out = []
    for row, value in enumerate(values, start=1):
        text = str(value).strip().lower()
        if text in YES or text in NO:
            out.append(1 if text in YES else 0)
        else:
            raise RadkitError(
                f"Column {column!r}, row {row} holds {value!r}" + (" (empty)" if not text else "")
                + "; a column per finding must hold 1 or 0 (or yes / no).",
                "Fill in every cell of the finding columns with 1 (present) or 0 (absent).")
    return np.array(out, dtype=np.uint8)


def read_label_csv(csv_path, image_folder=None, image_column: str = NIH_COLUMNS["image"],
                   label_column: str | None = NIH_COLUMNS["findings"], finding_columns=None,
                   separator: str = "|", findings=None, check_images: bool = True) -> LabelTable:
    """Read a CSV of labels for a folder of images, into a multi-hot table (notebook 06).

    Two layouts: ``label_column`` holds several findings per film, joined by
    ``separator`` (NIH's ``Finding Labels``); or ``finding_columns`` lists one 0/1
    (or yes/no) column per finding. The NIH columns for patient, age, sex and view
    are kept in ``info`` when present. With ``image_folder``, every image the CSV
    names must be there (``check_images``).
    """
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise RadkitError(f"There is no CSV file at {csv_path.name}.", "Check the path and the file name.")
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise RadkitError(f"{csv_path.name} has no rows.", "Use a CSV with a header line and one line per image.")
    header = list(rows[0])
    needed = [image_column] + ([label_column] if finding_columns is None else list(finding_columns))
    missing = [c for c in needed if c not in header]
    if missing:
        raise RadkitError(f"{csv_path.name} has no column {missing[0]!r} (its columns: {', '.join(header[:10])}).",
                          "Name the right columns with image_column=..., label_column=... or finding_columns=[...].")
    names = [r[image_column].strip() for r in rows]
    if finding_columns is None:
        labels, found = multi_hot([r[label_column] for r in rows], findings, separator)
    else:
        labels = np.stack([_yes_no([r[c] for r in rows], c) for c in finding_columns], axis=1)
        found = list(finding_columns)
    info = {}
    for key, column in NIH_COLUMNS.items():
        if key in ("image", "findings") or column not in header:
            continue
        values = [r[column].strip() for r in rows]
        info[key] = np.array([int(v) if v.isdigit() else -1 for v in values]) if key == "age" else np.array(values)
    folder = Path(image_folder).expanduser() if image_folder is not None else None
    if folder is not None and check_images:
        if not folder.is_dir():
            raise RadkitError(f"There is no image folder at {folder.name}.", "Check the path of the image folder.")
        absent = [n for n in names if not (folder / n).is_file()]
        if absent:
            raise RadkitError(
                f"{len(absent)} of the {len(names)} images named in {csv_path.name} are not in the folder "
                f"{folder.name}/, for example {absent[0]!r}.",
                "Check that the CSV's image column holds file names exactly as on disk (with the extension), "
                "copy the missing images in, or delete their rows from the CSV.")
    return LabelTable(names, labels, found, info, folder)


def load_films(table: LabelTable, size: int = 64, folder=None) -> np.ndarray:
    """Read every image a table names, grey and ``size`` x ``size`` pixels: uint8 (N, size, size) (notebook 06)."""
    from radkit.data import read_image, resize_images

    folder = Path(folder or table.folder)
    return np.stack([resize_images(read_image(folder / name)[None], size)[0] for name in table.names])


# ---------------------------------------------------------------- splits by patient

def check_patient_split(patients, *splits) -> None:
    """Refuse splits that share a patient: the model would be judged on a patient it has already seen (notebook 02)."""
    patients = np.asarray(patients)
    seen: dict = {}
    for number, index in enumerate(splits):
        for p in set(patients[np.asarray(index)].tolist()):
            if p in seen and seen[p] != number:
                raise RadkitError(
                    f"Patient {p} has films in two splits (split {seen[p] + 1} and split {number + 1}). A model "
                    "tested on a patient it trained on looks better than it is (patient leakage).",
                    "Split by patient: radkit.labels.split_by_patient(patient_ids) puts all of a patient's films "
                    "in one split.")
            seen[p] = number


def split_by_patient(patients, val: float = 0.15, test: float = 0.3, seed: int = 0) -> dict:
    """Train, validation and test indices with all of a patient's films in one split (notebook 06).

    Returns ``{"train": idx, "val": idx, "test": idx}``; fractions are of patients, so of films roughly.
    """
    patients = np.asarray(patients)
    unique = np.unique(patients)
    rng = np.random.default_rng(seed)
    order = rng.permutation(unique)
    n_test, n_val = int(round(test * len(unique))), int(round(val * len(unique)))
    groups = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    index = {name: np.flatnonzero(np.isin(patients, g)) for name, g in groups.items()}
    index = {k: index[k] for k in ("train", "val", "test")}
    check_patient_split(patients, *index.values())
    return index


# ---------------------------------------------------------------- the course's multi-label films

@dataclass
class Films:
    """Films with several findings each, and who they belong to (notebooks 06 and 10).

    ``images`` uint8 (N, H, W); ``labels`` (N, findings) 0/1; ``findings``;
    ``info`` (patient, age, sex, view); ``splits`` (train/val/test indices, by patient);
    ``expert`` (optional: radiologists' labels for some films); ``source``, ``is_real``.
    """

    images: np.ndarray
    labels: np.ndarray
    findings: list[str]
    info: dict
    splits: dict
    source: str
    is_real: bool
    names: list[str] = field(default_factory=list)
    expert: dict = field(default_factory=dict)

    def part(self, split: str):
        """(images, labels) of one split: ``films.part("train")``."""
        index = self.splits[split]
        return self.images[index], self.labels[index]

    def column(self, finding: str) -> np.ndarray:
        """The 0/1 labels of one finding, for every film."""
        return LabelTable(self.names, self.labels, self.findings).column(finding)

    def describe(self) -> None:
        """Print which films these are, the splits, and how many films show each finding."""
        kind = "REAL patient images" if self.is_real else "PRACTICE phantoms (generated, not real patients)"
        print(f"Data: {kind}\nFrom: {self.source}")
        n_patients = len(np.unique(self.info["patient"]))
        print(f"{len(self.images)} films of {n_patients} patients, {self.images.shape[1]} x {self.images.shape[2]} "
              f"pixels; split by patient: " + ", ".join(f"{k} {len(v)}" for k, v in self.splits.items()))
        counts = self.labels.sum(axis=0).astype(int)
        print("Films per finding: " + ", ".join(f"{f} {int(n)}" for f, n in
                                                sorted(zip(self.findings, counts), key=lambda t: -t[1])))


def _nih_folder() -> Path | None:
    found = download.stored_copy("nih_cxr_subset", "Data_Entry_subset.csv")
    return found.parent if found is not None and (found.parent / "images").is_dir() else None


def load_nih_subset(size: int = 64, source: str = "auto", seed: int = 0) -> Films:
    """NIH ChestX-ray14 films with 14 findings, age, sex and view, split by patient (notebook 06).

    ``source="auto"`` uses the NIH films when they are on this computer (``RADKIT_LOCAL_DATA``
    or the data folder, in ``nih_cxr_subset/``), else phantoms with several findings;
    ``"real"`` insists; ``"phantom"`` always draws. The radiologists' labels
    (Google 2019) come in ``expert`` when present. Fast mode keeps every film
    (reading them takes seconds) and shrinks the training elsewhere.
    """
    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'real', 'phantom'.", "Use source='auto'.")
    folder = None if source == "phantom" else _nih_folder()
    if folder is None:
        if source == "real":
            raise RadkitError("The NIH chest X-ray films are not on this computer.",
                              "Put the folder nih_cxr_subset/ (Data_Entry_subset.csv and images/) in your "
                              "RADKIT_LOCAL_DATA folder, or make it with `python3 run.py fetch nih_cxr_subset` "
                              "(see datasets/nih_cxr_subset.md), or use source='auto' for the practice phantoms.")
        reason = ("source='phantom' asks for them" if source == "phantom" else "the NIH films are not on this computer "
                  "(an instructor can prepare them with `python3 run.py fetch nih_cxr_subset`)")
        print(f"Using PRACTICE phantoms with several findings, because {reason}.")
        return phantom_films(n=config.pick(900, 600), size=size, seed=seed)
    table = read_label_csv(folder / "Data_Entry_subset.csv", folder / "images", findings=NIH_FINDINGS)
    films = Films(load_films(table, size), table.labels, table.findings, table.info,
                  split_by_patient(table.info["patient"], seed=seed),
                  "NIH ChestX-ray14 (NIH Clinical Center; Wang et al., CVPR 2017), nih_cxr_subset/", True,
                  table.names)
    expert_csv = folder / "google2019_expert_labels_subset.csv"
    if not expert_csv.is_file():
        # A folder made by `radkit fetch nih_cxr_subset` has no radiologists' labels (Google shares them
        # separately): section 5 of notebook 06 then uses the phantoms' stand-in, and says so.
        print("Note: the radiologists' labels (google2019_expert_labels_subset.csv) are not in this folder, so "
              "the comparison of report-mined and radiologists' labels uses the practice stand-in.")
        films.expert = phantom_films(n=200, size=8, seed=seed).expert
    else:
        expert = read_label_csv(expert_csv, finding_columns=EXPERT_FINDINGS)
        films.expert = {"names": expert.names, "labels": expert.labels, "findings": expert.findings,
                        "report": expert_report_labels([table.labels[table.names.index(n)] for n in expert.names],
                                                       table.findings)}
    return films



def load_normal_films(size: int = 224, n: int | None = None, seed: int = 0):
    """The NIH subset's "No Finding" films, grey ``size`` x ``size``, and their views (AP/PA) (notebook 07).

    Normal films to try a model on that has only seen sick ones. ``n`` picks that many
    at random (``seed``), to keep a run short. None when the NIH films are not on this computer.
    """
    folder = _nih_folder()
    if folder is None:
        return None
    table = read_label_csv(folder / "Data_Entry_subset.csv", folder / "images", findings=NIH_FINDINGS)
    normal = np.flatnonzero(table.labels.sum(axis=1) == 0)
    if n is not None and n < len(normal):
        normal = np.sort(np.random.default_rng(seed).choice(normal, n, replace=False))
    chosen = LabelTable([table.names[i] for i in normal], table.labels[normal], table.findings,
                        {k: np.asarray(v)[normal] for k, v in table.info.items()}, table.folder)
    return load_films(chosen, size), chosen.info["view"]


# Google 2019 radiologist-adjudicated labels, and the NIH report-mined findings that mean the same.
EXPERT_FINDINGS = ("Pneumothorax", "Airspace opacity", "Nodule or mass", "Fracture")
EXPERT_TO_NIH = {"Pneumothorax": ("Pneumothorax",), "Airspace opacity": ("Pneumonia", "Consolidation", "Infiltration"),
                 "Nodule or mass": ("Nodule", "Mass"), "Fracture": ()}


def expert_report_labels(labels, findings) -> np.ndarray:
    """The report-mined NIH labels recast as the radiologists' four findings (any of the matching NIH findings)."""
    labels = np.asarray(labels).reshape(-1, len(findings))
    columns = [[findings.index(f) for f in EXPERT_TO_NIH[e]] for e in EXPERT_FINDINGS]
    return np.stack([labels[:, c].max(axis=1) if c else np.zeros(len(labels), np.uint8) for c in columns], axis=1)


def agreement(first, second) -> dict:
    """How two sets of 0/1 labels for the same films agree: counts, fraction agreeing, Cohen's kappa (notebook 06)."""
    a, b = np.asarray(first).astype(int).ravel(), np.asarray(second).astype(int).ravel()
    if len(a) != len(b) or len(a) == 0:
        raise RadkitError(f"Give two label lists of the same length; got {len(a)} and {len(b)}.",
                          "Use the labels of the same films, in the same order.")
    both, neither = int(np.sum((a == 1) & (b == 1))), int(np.sum((a == 0) & (b == 0)))
    only_first, only_second = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    observed = (both + neither) / len(a)
    chance = (a.mean() * b.mean()) + ((1 - a.mean()) * (1 - b.mean()))
    kappa = (observed - chance) / (1 - chance) if chance < 1 else float("nan")
    return {"both": both, "neither": neither, "only_first": only_first, "only_second": only_second,
            "agree": float(observed), "kappa": float(kappa), "n": len(a)}


def load_chestmnist(size: int = 28, train: int | None = None, val: int | None = None, test: int | None = None,
                    seed: int = 0):
    """ChestMNIST (NIH ChestX-ray14 at ``size`` px, 14 findings, official splits by patient) if on this computer (06).

    Looks in RADKIT_LOCAL_DATA and the data folder only (it never downloads: the 28 px file is
    about 80 MB; `radkit fetch chestmnist` gets it). Returns an ``ImageDataset`` cut to at most
    ``train``/``val``/``test`` films (seeded), or None after saying plainly why it is not used.
    """
    from radkit import data, registry

    file = registry.get("chestmnist").file(size)
    if download.stored_copy("chestmnist", file.name) is None:
        print(f"ChestMNIST ({file.name}) is not on this computer, so this step is skipped. To add it, run "
              f"`python3 run.py fetch chestmnist{'' if size == 28 else f' --size {size}'}` once while online "
              "(or put the file in RADKIT_LOCAL_DATA), then run this cell again.")
        return None
    chest = data.load_medmnist(download.fetch("chestmnist", size))
    if chest.train[1].ndim != 2 or chest.train[1].shape[1] != len(chest.label_names):
        raise RadkitError(f"{file.name} does not hold one 0/1 column per finding ({len(chest.label_names)}).",
                          "Use ChestMNIST from MedMNIST (radkit fetch chestmnist).")
    return chest.subset(train=train, val=val, test=test, seed=seed)


def phantom_films(n: int = 600, size: int = 64, seed: int = 0) -> Films:
    """Phantom films with several findings, patients, age, sex and view, split by patient (offline notebook 06)."""
    drawn = phantoms.chest_xrays_multi(n, size=size, seed=seed)
    films = Films(drawn["images"], drawn["labels"], list(drawn["findings"]), drawn["info"],
                  split_by_patient(drawn["info"]["patient"], seed=seed),
                  "generated on this computer by radkit.phantoms.chest_xrays_multi", False,
                  [f"phantom_{i:04d}.png" for i in range(n)])
    # Offline stand-in for report-mined versus adjudicated labels: the drawing is the truth,
    # the "report" misses or adds a finding on some films.
    rng = np.random.default_rng(seed + 7)
    pick = rng.choice(n, min(40, n), replace=False)
    truth = films.labels[pick]
    flips = rng.random(truth.shape) < 0.15
    films.expert = {"names": [films.names[i] for i in pick], "labels": truth, "findings": films.findings,
                    "report": np.where(flips, 1 - truth, truth).astype(np.uint8)}
    return films


def hide_labels(labels, keep: float = 0.1, seed: int = 0) -> np.ndarray:
    """Pretend most films were never labelled: keep a share ``keep`` of the 0/1 labels, -1 elsewhere (notebook 06).

    Stratified: the kept labels have the same share of positives as all of them.
    Returns int labels, -1 meaning "unknown", as ``radkit.models.spread_labels`` takes them.
    """
    labels = np.asarray(labels).astype(int)
    if not 0 < keep <= 1:
        raise RadkitError(f"keep={keep} must be a fraction between 0 and 1.", "For 10 % write keep=0.1.")
    rng = np.random.default_rng(seed)
    hidden = np.full(len(labels), -1)
    for value in np.unique(labels):
        where = np.flatnonzero(labels == value)
        chosen = rng.choice(where, max(1, int(round(keep * len(where)))), replace=False)
        hidden[chosen] = value
    return hidden
