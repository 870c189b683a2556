"""A folder of DICOM slices to a 3-D volume in the right order, with its spacing. Introduced in
notebook 01_medical_images and used by notebook 08.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

from radkit.errors import RadkitError

from radkit.dicom.reading import example_path, read
from radkit.dicom.pixels import pixels
from radkit.dicom.saving import save


@dataclass
class Series:
    """A 3-D volume from a folder of slices: ``volume`` (slices, rows, cols) in real units (HU on CT),
    ``spacing`` (between slices, rows, cols) in mm, the ``files`` in slice order, the first slice's
    header, how the slices were put in ``order``, and ``notes`` on anything radkit had to decide."""

    volume: np.ndarray
    spacing: tuple[float, float, float]
    files: list[Path]
    header: pydicom.Dataset
    order: str  # how the slices were put in order
    notes: list[str] = field(default_factory=list)


def _position_along_normal(ds) -> float | None:
    """Where a slice lies along the line at right angles to it (mm), from its position and orientation."""
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
        return None
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal))


def read_folder(folder, headers_only: bool = False) -> list[tuple[Path, pydicom.Dataset]]:
    """Every DICOM image file in ``folder`` (and its sub-folders), skipping other files.
    ``headers_only`` reads the headers without the pixels (fast, for listing a large folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the spelling of the path.")
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not pydicom.misc.is_dicom(path):  # a README, a thumbnail...: skip it
            continue
        ds = _header(path) if headers_only else read(path)  # a damaged file stops with a clear message
        if headers_only and "Rows" not in ds:  # not an image, or a header cut short: the full read tells
            ds = read(path)
        if "Rows" in ds if headers_only else "PixelData" in ds:
            found.append((path, ds))
    if not found:
        raise RadkitError(f"No DICOM images were found in {folder}.",
                          "Check that this is the folder holding the .dcm files (it may be a folder above or below).")
    return found


def _header(path: Path) -> pydicom.Dataset:
    """The header of one file, without its pixels; a clear error when it is damaged."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:
        return read(path)  # says plainly what is wrong (or reads the file after all)


def plane(orientation) -> str:
    """The plane a slice lies in, from its ImageOrientationPatient: axial, coronal, sagittal or oblique."""
    if orientation is None or len(orientation) != 6:
        return "plane unknown"
    row, column = np.array(orientation[:3], dtype=float), np.array(orientation[3:], dtype=float)
    normal = np.cross(row, column)
    length = np.linalg.norm(normal)
    if length == 0:
        return "plane unknown"
    normal = np.abs(normal) / length
    if normal.max() < 0.9:  # tilted more than about 25 degrees from every main plane
        return "oblique"
    return ("sagittal", "coronal", "axial")[int(np.argmax(normal))]


def _uid_tails(uids: list[str], shortest: int = 8) -> dict[str, str]:
    """The end of each UID, long enough to tell every series in the folder apart."""
    for length in range(shortest, max([len(u) for u in uids] + [shortest]) + 1):
        if len({uid[-length:] for uid in uids}) == len(uids):
            break
    return {uid: ("..." if len(uid) > length else "") + uid[-length:] for uid in uids}


def _date(ds) -> str:
    """The series' date as 2024-03-05 (or the study's), or "no date"."""
    value = str(ds.get("SeriesDate") or ds.get("StudyDate") or ds.get("AcquisitionDate") or "")
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) >= 8 and value[:8].isdigit() else "no date"


def _series_list(groups: dict) -> list[str]:
    """One short line per series: number, date, description, slices, modality, plane, and a UID tail that
    tells it from the others."""
    tails = _uid_tails(list(groups))
    lines = []
    for number, (uid, slices) in enumerate(groups.items(), start=1):
        first = slices[0][1]
        description = _describe(first)[:32]
        where = plane(first.get("ImageOrientationPatient")) if "ImageOrientationPatient" in first else "no plane"
        lines.append(f"{number:>3}. {_date(first)} {description!r}: {len(slices)} file{'s' * (len(slices) != 1)}, "
                     f"{first.get('Modality', '?')}, {where}, UID {tails[uid]}")
    return lines


def _describe(ds) -> str:
    """A series' description, or the nearest thing its header has."""
    keywords = ("SeriesDescription", "ProtocolName", "BodyPartExamined", "StudyDescription")
    return next((str(ds.get(k)) for k in keywords if ds.get(k)), "(no description)")


def _choose_series(folder, groups: dict, series) -> str:
    """The UID of the series the learner chose: by number (from 1), by UID, or by part of its description."""
    listing = _series_list(groups)
    shown = "\n".join(listing[:25] + ([f"     ... and {len(listing) - 25} more"] if len(listing) > 25 else []))
    how = ("load_series(folder, series=1) by number, series='T1' by part of its description, "
           "or series='...1234.5678' by the end of its UID")
    uids = list(groups)
    if series is None:
        raise RadkitError(f"{Path(folder).name} holds {len(groups)} series:\n{shown}", f"Choose one: {how}.")
    if isinstance(series, (int, np.integer)) and not isinstance(series, bool):
        if 1 <= series <= len(uids):
            return uids[series - 1]
        raise RadkitError(f"There is no series number {series}: the folder holds {len(uids)}.\n{shown}",
                          f"Choose a number from 1 to {len(uids)}.")
    text = str(series)
    if text in groups:
        return text
    tail = text.lstrip(".")
    matches = [uid for uid in uids if len(tail) >= 4 and uid.endswith(tail)]
    if len(matches) != 1:
        matches = [uid for uid in uids if text.lower() in _describe(groups[uid][0][1]).lower()]
    if len(matches) == 1:
        return matches[0]
    problem = f"{len(matches)} series match {text!r}" if matches else f"No series matches {text!r}"
    raise RadkitError(f"{problem}. The folder holds:\n{shown}", f"Choose one: {how}.")


def load_series(folder, series=None, series_uid: str | None = None) -> Series:
    """Stack the slices in ``folder`` into a 3-D volume, in slice order (notebook 01).

    Slices are ordered by their position along the slice normal (ImagePositionPatient and
    ImageOrientationPatient), or by InstanceNumber when positions are missing. A folder holding
    several series needs ``series``: its number in the list the error shows, part of its
    description, or the end of its UID as listed (``series_uid`` also works). Copies of the same slice (same SOPInstanceUID) are left
    out with a note; slices facing different ways are refused; a single slice is said not to be a volume.
    """
    groups: dict[str, list] = {}
    for path, ds in read_folder(folder, headers_only=True):  # headers first: a big folder lists quickly
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((path, ds))
    choice = series_uid if series_uid is not None else series
    uid = next(iter(groups)) if choice is None and len(groups) == 1 else _choose_series(folder, groups, choice)
    slices, notes = _without_copies([(path, read(path)) for path, _ in groups[uid]])
    _check_orientation(folder, slices)

    positions = [_position_along_normal(ds) for _, ds in slices]
    if all(p is not None for p in positions):
        keys, order = positions, "position along the slice normal (ImagePositionPatient)"
    elif all("InstanceNumber" in ds for _, ds in slices):
        keys, order = [int(ds.InstanceNumber) for _, ds in slices], "InstanceNumber (positions missing)"
    else:
        raise RadkitError(f"The slices in {folder} have neither positions nor instance numbers, "
                          "so their order is unknown.", "Export the series again with its full headers.")
    ranked = sorted(range(len(slices)), key=keys.__getitem__)
    slices = [slices[i] for i in ranked]
    shapes = {(ds.Rows, ds.Columns) for _, ds in slices}
    if len(shapes) > 1:
        raise RadkitError(f"The slices in {folder} have different sizes {sorted(shapes)}.",
                          "Put only the slices of one series in the folder.")

    header = slices[0][1]
    if order.startswith("position") and len(slices) > 1:
        gaps = np.diff(sorted(positions))
        if np.any(gaps < 1e-3):
            same = [p.name for (p, _), gap in zip(slices, np.r_[gaps, 1.0]) if gap < 1e-3][:3]
            raise RadkitError(f"Some slices lie at the same position ({', '.join(same)} and others): "
                              "they may be two acquisitions of the same place, or two series in one.",
                              "Keep one file per position in the folder, then try again.")
        between = float(np.median(gaps))
    else:
        between = float(header.get("SpacingBetweenSlices") or header.get("SliceThickness") or 1.0)
    if len(slices) == 1:
        notes.append("This series has a single slice: it is one image, not a volume "
                     "(the spacing between slices is unknown; SliceThickness is shown instead).")
    row, col = (float(v) for v in header.get("PixelSpacing", [1.0, 1.0]))
    padding_notes = []
    volume = np.stack([pixels(ds, notes=padding_notes) for _, ds in slices])
    if padding_notes:
        notes.append(f"{len(padding_notes)} of {len(slices)} slice{'s' * (len(slices) != 1)}: "
                     + padding_notes[0].split(": ", 1)[1])
    for note in notes:
        print(f"Note: {note}")
    return Series(volume, (round(between, 4), row, col), [p for p, _ in slices], header, order, notes)


def _without_copies(slices: list) -> tuple[list, list[str]]:
    """Leave out files that repeat a slice already seen (same SOPInstanceUID), with a note."""
    seen, kept, copies = set(), [], []
    for path, ds in slices:
        uid = str(ds.get("SOPInstanceUID", "")) or str(path)
        if uid in seen:
            copies.append(path.name)
        else:
            seen.add(uid)
            kept.append((path, ds))
    notes = [f"{len(copies)} file{'s' * (len(copies) != 1)} repeating a slice already read (same SOPInstanceUID) "
             f"left out: {', '.join(copies[:5])}{' ...' if len(copies) > 5 else ''}"] if copies else []
    return kept, notes


def _check_orientation(folder, slices: list) -> None:
    """Refuse slices that face different ways: stacking them would make a wrong volume."""
    faces = {}
    for path, ds in slices:
        if "ImageOrientationPatient" in ds:
            key = tuple(np.round(np.array(ds.ImageOrientationPatient, dtype=float), 3))
            faces.setdefault(key, []).append(path.name)
    if len(faces) > 1:
        planes = {key: plane(key) for key in faces}
        repeated = [name for name in planes.values() if list(planes.values()).count(name) > 1]
        named = {key: planes[key] + (" tilted " + "/".join(f"{v:g}" for v in key) if planes[key] in repeated else "")
                 for key in faces}
        listing = "; ".join(f"{len(names)} {named[key]} (e.g. {names[0]})" for key, names in faces.items())
        raise RadkitError(f"The slices in {Path(folder).name} face different ways ({listing}), so they cannot be "
                          "stacked into one volume (a localiser, or several planes in one series).",
                          "Put only slices with the same ImageOrientationPatient in the folder.")


def example_series(folder=None, seed: int = 0) -> Path:
    """Write a real 3-D MR (pydicom-data's emri_small.dcm, 10 slices in one file) as one file per slice.

    Scanners usually send a series as one file per slice. The file names are
    shuffled, so only the headers tell the order. Each slice gets a position
    SpacingBetweenSlices (1.2 mm) further along the slice normal. The file
    stores neither orientation nor pixel size: we call the slices sagittal,
    and the volume says 1 mm for the pixels. Returns the folder (a new temporary one when ``folder`` is None).
    """
    source = read(example_path("emri_small.dcm"))
    frames = source.pixel_array
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="radkit_series_"))
    step = float(source.get("SpacingBetweenSlices", 1.0))
    names = np.random.default_rng(seed).permutation(len(frames))
    for index, frame in enumerate(frames):
        ds = read(example_path("MR_small.dcm"))  # a classic one-slice MR header to fill in
        ds.PixelData, ds.Rows, ds.Columns = frame.astype(np.uint16).tobytes(), *frame.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # sagittal: rows run front to back, columns head to feet
        ds.ImagePositionPatient = [-index * step, 0, 0]  # each slice one step further along the normal (-x)
        ds.InstanceNumber = index + 1
        ds.SliceThickness = ds.SpacingBetweenSlices = step
        ds.SeriesDescription = "emri_small split into one file per slice"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        for keyword in ("WindowCenter", "WindowWidth", "PixelSpacing"):  # not known for these slices
            ds.pop(keyword, None)
        save(ds, folder / f"slice_{names[index]:03d}.dcm")
    return folder
