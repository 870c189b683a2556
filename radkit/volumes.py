"""3-D scans as NumPy arrays: NIfTI files, DICOM series, slices for a 2-D model, planes and GIFs (notebook 08).

NIfTI (``.nii`` / ``.nii.gz``) is the research format for volumes: one file holds
the whole 3-D array, the voxel size and an *affine* (where each voxel lies in
the patient, in mm). radkit reads it with nibabel and hands you a plain array
and the voxel size (``spacing``, mm per axis). A DICOM series (notebook 01)
becomes a NIfTI volume with ``series_to_nifti``, and a volume (for example a
predicted mask) goes back to DICOM slices with ``volume_to_series``.

A 2-D model sees one slice at a time: ``to_slices`` cuts every scan along its
first axis and pads the slices to one size; ``from_slices`` puts predictions
back together into volumes, so each patient is judged as a whole.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config
from radkit.errors import RadkitError
from radkit.files import write_atomically

HIPPOCAMPUS = "msd_hippocampus"
HIPPOCAMPUS_LABELS = ("background", "anterior", "posterior")
PHANTOM_LABELS = ("background", "left atrium")
PHANTOM_SPACING = (2.5, 1.25, 1.25)  # mm: thick slices, fine in-plane, as on a cardiac MRI
PHANTOM_SHAPE = (32, 64, 64)  # about as many slices per scan as a hippocampus scan, so lessons train alike
CANONICAL = "RAS"  # the one orientation every volume radkit reads comes out in
PLANES = {"R": "sagittal", "L": "sagittal", "A": "coronal", "P": "coronal", "S": "axial", "I": "axial"}


# ---------------------------------------------------------------- NIfTI files

def _nifti(path):
    """Open a NIfTI file with nibabel, or say plainly why it cannot be read."""
    import nibabel

    path = Path(path)
    if not path.is_file():
        raise RadkitError(f"There is no file at {path.name} ({path.parent.name}/).",
                          "Check the name and folder; NIfTI files end in .nii or .nii.gz.")
    try:
        image = nibabel.load(path)
        data = np.asanyarray(image.dataobj)
    except Exception as error:  # noqa: BLE001 - nibabel, gzip and numpy each raise their own kind
        raise RadkitError(f"{path.name} is not a readable NIfTI file: its header or data is damaged "
                          f"({type(error).__name__}: {str(error)[:120]}).",
                          "Export or download the file again; check that it was copied completely.") from None
    return image, data


def to_canonical(array, affine, spacing=None) -> tuple[np.ndarray, tuple, np.ndarray, str]:
    """Turn a volume to RAS, the one orientation radkit works in (notebook 08): returns
    ``(array, spacing, affine, what_was_turned)``, ``what_was_turned`` being "" when it already was RAS.

    RAS: the first axis runs to the patient's Right, the second to the front (Anterior), the third up
    (Superior), as nibabel's ``as_closest_canonical`` and MONAI's ``Orientation("RAS")`` give. Axes are
    only reordered and flipped (never resampled), and the voxel size moves with its axis. A volume cut at
    a slant (oblique) is turned to the nearest RAS, and the note says so.
    """
    import nibabel
    from nibabel import orientations

    array, affine = np.asarray(array), np.asarray(affine, float)
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    spacing = tuple(float(z) for z in (zooms if spacing is None else spacing))[:3]
    ornt = orientations.io_orientation(affine)  # for each array axis: which RAS axis, and flipped or not
    before = "".join(nibabel.aff2axcodes(affine))
    turned = orientations.apply_orientation(array, ornt)
    new_affine = affine @ orientations.inv_ornt_aff(ornt, array.shape[:3])
    new_spacing = [0.0] * 3
    for axis, (target, _) in enumerate(ornt):
        new_spacing[int(target)] = spacing[axis]
    directions = affine[:3, :3] / np.where(zooms > 0, zooms, 1)
    oblique = bool(np.any((np.abs(directions) > 1e-3) & (np.abs(directions) < 1 - 1e-3)))
    note = ""
    if before != CANONICAL:
        note = (f"turned from {before} to {CANONICAL} (the file's axes ran towards {_axis_words(before)}; "
                "reordered and flipped, not resampled, so every voxel keeps its value)")
    if oblique:
        note = (note or "kept as RAS") + "; the slices were cut at a slant (oblique): this is the nearest RAS"
    return np.ascontiguousarray(turned), tuple(round(s, 5) for s in new_spacing), new_affine, note


def _axis_words(codes: str) -> str:
    words = {"R": "right", "L": "left", "A": "front", "P": "back", "S": "head", "I": "feet"}
    return ", ".join(words[c] for c in codes)


def read_nifti(path, allow_4d: bool = False, canonical: bool = True) -> tuple[np.ndarray, tuple[float, ...]]:
    """Read a NIfTI volume in RAS: returns ``(array, spacing)``, the voxel size in mm per axis (notebook 08).

    Every volume comes out in one orientation, RAS (see ``to_canonical``), so a model sees
    the same anatomy along the same axis whatever the scanner wrote; ``canonical=False`` keeps the
    file's own order. A 4-D file (a time series, or several sequences in one file) is refused
    unless ``allow_4d=True``: segmentation here works on one 3-D volume.
    """
    array, spacing, _, _ = _read_nifti(path, allow_4d, canonical)
    return array, spacing


def _read_nifti(path, allow_4d: bool = False, canonical: bool = True):
    """read_nifti, also returning the affine and what was turned."""
    image, data = _nifti(path)
    if data.ndim == 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 4 and not allow_4d:
        raise RadkitError(f"{Path(path).name} is a 4-D volume {data.shape}: {data.shape[-1]} volumes in one file "
                          "(time points or sequences).",
                          "Take one of them, e.g. array, spacing = read_nifti(path, allow_4d=True); "
                          "volume = array[..., 0].")
    if data.ndim not in (3, 4):
        raise RadkitError(f"{Path(path).name} holds a {data.ndim}-D array {data.shape}, not a 3-D volume.",
                          "Use a NIfTI file holding one 3-D scan.")
    spacing = tuple(round(float(z), 5) for z in image.header.get_zooms()[:data.ndim])  # stored as float32
    if not canonical:
        return np.asarray(data), spacing, image.affine, ""
    array, spatial, affine, note = to_canonical(data, image.affine, spacing[:3])
    return array, spatial + spacing[3:], affine, note


def nifti_facts(path) -> dict:
    """What a NIfTI header says: shape, data type, voxel size (mm), orientation letters and the affine (notebook 08)."""
    import nibabel

    image, data = _nifti(path)
    return {"shape": tuple(data.shape), "dtype": str(data.dtype),
            "spacing": tuple(round(float(z), 4) for z in image.header.get_zooms()[:3]),
            "orientation": "".join(nibabel.aff2axcodes(image.affine)), "affine": np.round(image.affine, 4)}


def _refuse_overwrite(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise RadkitError(f"{path.name} already exists, and radkit does not replace a file unasked.",
                          "Choose another name, or pass overwrite=True to replace it.")


def _replace_if(overwrite: bool):
    """For files.write_atomically: replace an existing file only when the caller said overwrite=True."""
    return (lambda path: True) if overwrite else None


def write_nifti(array, path, spacing=(1.0, 1.0, 1.0), affine=None, overwrite: bool = False) -> Path:
    """Save a 3-D array as a NIfTI file (never half-written) with its voxel size in mm (notebook 08)."""
    import nibabel


    array, path = np.asarray(array), Path(path)
    if array.ndim != 3:
        raise RadkitError(f"write_nifti saves one 3-D volume; this array has shape {array.shape}.",
                          "Give a (slices, rows, columns)-like array.")
    if not path.name.endswith((".nii", ".nii.gz")):
        raise RadkitError(f"{path.name} does not end in .nii or .nii.gz.", "Use a name such as scan.nii.gz.")
    _refuse_overwrite(path, overwrite)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if affine is None:
        affine = np.diag([*(float(s) for s in spacing), 1.0])
    image = nibabel.Nifti1Image(array, np.asarray(affine, float))
    image.header.set_zooms(tuple(float(s) for s in spacing))
    data = image.to_bytes()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    return write_atomically(path, lambda temporary: Path(temporary).write_bytes(data),
                             _replace_if(overwrite))


# ---------------------------------------------------------------- DICOM series <-> NIfTI

def series_affine(series) -> np.ndarray:
    """Voxel (slice, row, column) -> patient position in mm, RAS as NIfTI expects, from a DICOM series' headers."""
    header = series.header
    spacing = series.spacing
    if "ImageOrientationPatient" not in header or "ImagePositionPatient" not in header:
        return np.diag([*spacing, 1.0])
    orientation = np.array(header.ImageOrientationPatient, dtype=float)
    along_row, along_column = orientation[:3], orientation[3:]
    normal = np.cross(along_row, along_column)
    affine = np.eye(4)
    # DICOM: column index moves along the row direction, row index along the column direction.
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = normal * spacing[0], along_column * spacing[1], along_row * spacing[2]
    affine[:3, 3] = np.array(header.ImagePositionPatient, dtype=float)
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # DICOM counts x, y to the patient's left/back (LPS); NIfTI RAS


def series_to_nifti(folder, path, overwrite: bool = False) -> Path:
    """Turn a folder of DICOM slices (notebook 01's ``load_series``) into one NIfTI volume (notebook 08)."""
    from radkit.dicom import load_series

    series = load_series(folder)
    return write_nifti(series.volume, path, spacing=series.spacing, affine=series_affine(series), overwrite=overwrite)


def volume_to_series(volume, template_folder, out_folder, description: str = "RadKit volume") -> list[Path]:
    """Write a volume (e.g. a predicted mask) as DICOM slices that copy the template series' headers (notebook 08).

    ``volume`` is in RAS, as ``read_scan`` and ``read_nifti`` give it; it is turned back to the series'
    own slices, rows and columns. The new series gets its own identifiers, so a viewer shows it beside
    the original. ``out_folder`` must be new or empty: radkit does not mix its files with others.
    """
    import pydicom
    from nibabel import orientations

    from radkit.dicom import load_series, read, save

    series = load_series(template_folder)
    volume = np.asarray(volume)
    ras_shape, _, _, _ = to_canonical(np.empty(series.volume.shape, np.uint8), series_affine(series))
    if volume.shape != ras_shape.shape:
        raise RadkitError(f"The volume has shape {volume.shape} but the series, turned to RAS, {ras_shape.shape}.",
                          "Give a volume made from this series as radkit reads it (volumes.read_scan(folder)).")
    back = orientations.ornt_transform(orientations.axcodes2ornt(tuple(CANONICAL)),
                                       orientations.io_orientation(series_affine(series)))
    volume = orientations.apply_orientation(volume, back)
    if volume.min() < 0 or volume.max() > 65535:
        raise RadkitError(f"The volume holds values {volume.min()} to {volume.max()}; DICOM slices here store 0..65535.",
                          "Save a mask (whole numbers) or rescale the volume first.")
    out_folder = Path(out_folder)
    if out_folder.exists() and any(out_folder.iterdir()):
        raise RadkitError(f"The folder {out_folder.name} is not empty.", "Choose a new folder for the new series.")
    series_uid = pydicom.uid.generate_uid()
    written = []
    for index, (source, plane) in enumerate(zip(series.files, volume)):
        ds = read(source)
        ds.PixelData, (ds.Rows, ds.Columns) = plane.astype(np.uint16).tobytes(), plane.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        for keyword in ("WindowCenter", "WindowWidth", "NumberOfFrames"):
            ds.pop(keyword, None)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.SeriesInstanceUID, ds.SeriesDescription = series_uid, description
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        written.append(save(ds, out_folder / f"slice_{index:03d}.dcm"))
    return written


def write_series(array, folder, spacing=(1.0, 1.0, 1.0), affine=None, orientation: str | None = None,
                 modality: str = "MR", description: str = "RadKit test series", seed: int = 0) -> Path:
    """Write a volume as a DICOM series, one file per slice, the way a scanner sends one (notebook 08).

    ``affine`` says where each voxel lies (RAS, as NIfTI; default: ``array`` is RAS with voxels of
    ``spacing`` mm). ``orientation`` (e.g. "SPL": axial slices from the head down, rows front to back)
    re-cuts it first. Slices are cut across the first axis; file names are shuffled (``seed``), so only the
    headers (ImagePositionPatient, ImageOrientationPatient) tell the order. Whole numbers 0..65535 are
    stored as they are; other values through RescaleSlope/RescaleIntercept. ``folder`` must be new or empty.
    """
    import pydicom
    from nibabel import orientations

    from radkit.dicom import save

    array = np.asarray(array)
    if array.ndim != 3:
        raise RadkitError(f"write_series saves one 3-D volume; this array has shape {array.shape}.",
                          "Give a (slices, rows, columns)-like array.")
    affine = np.diag([*(float(v) for v in spacing), 1.0]) if affine is None else np.asarray(affine, float)
    if orientation:
        change = orientations.ornt_transform(orientations.io_orientation(affine),
                                             orientations.axcodes2ornt(tuple(orientation)))
        array, affine = orientations.apply_orientation(array, change), affine @ orientations.inv_ornt_aff(change, array.shape)
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise RadkitError(f"The folder {folder.name} is not empty.", "Choose a new folder for the new series.")
    whole = np.all(array == np.round(array)) and array.min() >= 0 and array.max() <= 65535
    intercept = 0.0 if whole else float(array.min())
    slope = 1.0 if whole else float(array.max() - array.min()) / 65535 or 1.0
    stored = np.round((array - intercept) / slope).astype(np.uint16)
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    to_lps = np.array([-1.0, -1.0, 1.0])  # NIfTI counts x, y to the right/front (RAS); DICOM to the left/back (LPS)
    row_direction, column_direction = affine[:3, 2] / zooms[2] * to_lps, affine[:3, 1] / zooms[1] * to_lps
    uid = pydicom.uid.generate_uid
    study, series_uid, frame = uid(), uid(), uid()
    sop_class = {"CT": pydicom.uid.CTImageStorage}.get(modality, pydicom.uid.MRImageStorage)
    number = lambda v: f"{float(v):.6g}"  # noqa: E731 - DICOM decimal strings hold at most 16 characters
    names = np.random.default_rng(seed).permutation(len(array))
    for k, plane in enumerate(stored):
        ds = pydicom.Dataset()
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = sop_class, ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series_uid, frame
        ds.PatientName, ds.PatientID, ds.Modality = "TEST^PATIENT", "RADKIT-TEST", modality
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = description, 1, k + 1
        ds.ImageOrientationPatient = [number(v) for v in (*row_direction, *column_direction)]
        ds.ImagePositionPatient = [number(v) for v in (affine @ [k, 0, 0, 1])[:3] * to_lps]
        ds.PixelSpacing = [number(zooms[1]), number(zooms[2])]  # between rows, between columns
        ds.SliceThickness = number(zooms[0])
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = number(slope), number(intercept)
        ds.PixelData = np.ascontiguousarray(plane).tobytes()
        save(ds, folder / f"slice_{names[k]:03d}.dcm")
    return folder


# ---------------------------------------------------------------- one patient's scan, in RAS

@dataclass
class Scan:
    """One patient's scan from a NIfTI file or a DICOM series folder: ``array`` (values as stored, HU on CT),
    ``spacing`` (mm per axis), ``affine``, ``orientation``, ``modality`` ("" when the file does not say),
    and ``notes`` on what radkit did (for example the axes it turned)."""

    array: np.ndarray
    spacing: tuple
    affine: np.ndarray
    orientation: str
    modality: str
    source: str
    notes: list = field(default_factory=list)

    def describe(self) -> None:
        """Say what this scan is: size, voxel size, orientation, modality, and what was turned."""
        print(f"{self.source}: {self.array.shape} voxels of {self.spacing} mm, orientation {self.orientation}, "
              f"modality {self.modality or 'not stated'}")
        for note in self.notes:
            print(f"  note: {note}")


def read_scan(path, series=None, canonical: bool = True) -> Scan:
    """Read one patient's scan, a NIfTI file or a folder of DICOM slices, turned to RAS (notebook 08).

    ``series`` chooses one series in a folder that holds several (as in ``dicom.load_series``).
    ``canonical=False`` keeps the axes as stored (a NIfTI file's order; for DICOM, slices stacked
    along their normal, rows, columns): only to see what goes wrong without turning.
    """
    from radkit.dicom import load_series

    path = Path(path)
    if path.is_dir():
        stack = load_series(path, series=series)
        array, spacing, affine = stack.volume, stack.spacing, series_affine(stack)
        modality, notes, source = str(stack.header.get("Modality", "")), list(stack.notes), f"DICOM series {path.name}/"
        note = ""
        if canonical:
            array, spacing, affine, note = to_canonical(array, affine, spacing)
    elif path.name.endswith((".nii", ".nii.gz")):
        array, spacing, affine, note = _read_nifti(path, canonical=canonical)
        modality, notes, source = "", [], f"NIfTI file {path.name}"
    else:
        raise RadkitError(f"{path.name} is neither a NIfTI file (.nii, .nii.gz) nor a folder of DICOM slices.",
                          "Give the NIfTI file, or the folder that holds the series' .dcm files.")
    import nibabel

    notes += [note] if note else []
    return Scan(np.asarray(array), tuple(float(v) for v in spacing[:3]), affine,
                "".join(nibabel.aff2axcodes(affine)), modality, source, notes)


# ---------------------------------------------------------------- a set of scans

@dataclass
class Volumes:
    """Scans with their label volumes: ``images`` (float32 0..1), ``labels`` (uint8), ``spacings`` (mm), ``ids``."""

    images: list
    labels: list
    spacings: list
    ids: list
    label_names: tuple
    source: str
    is_real: bool
    orientation: str = ""  # e.g. "RAS": what the array's axes point to, when known
    notes: list = field(default_factory=list)
    files: list = field(default_factory=list)  # the image files, when read from disk
    modality: str = ""  # DICOM's code: "MR", "CT", ... when known

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices) -> Volumes:
        """The scans at ``indices``: images, labels, spacings and ids move together."""
        pick = [int(i) for i in indices]
        return Volumes([self.images[i] for i in pick], [self.labels[i] for i in pick],
                       [self.spacings[i] for i in pick], [self.ids[i] for i in pick],
                       self.label_names, self.source, self.is_real, self.orientation, list(self.notes),
                       [self.files[i] for i in pick] if self.files else [], self.modality)

    def describe(self) -> None:
        """Say which data this is, how many scans, their size and voxel size."""
        kind = "REAL scans" if self.is_real else "PRACTICE PHANTOMS (generated, not real patients)"
        shapes = np.array([v.shape for v in self.images])
        smallest, largest = tuple(int(v) for v in shapes.min(0)), tuple(int(v) for v in shapes.max(0))
        print(f"{self.source}: {kind}")
        print(f"  {len(self)} scans, sizes {smallest} to {largest} voxels, "
              f"voxel size {self.spacings[0]} mm" + (f", orientation {self.orientation}" if self.orientation else ""))
        print("  labels: " + ", ".join(f"{i} = {n}" for i, n in enumerate(self.label_names)))
        for note in self.notes:
            print(f"  note: {note}")


def scale_intensity(volume) -> np.ndarray:
    """MRI has no fixed units: scale one scan to 0..1 by its 99.5th percentile (bright outliers clipped)."""
    volume = np.asarray(volume, dtype=np.float32)
    top = float(np.percentile(volume, 99.5)) if volume.size else 0.0
    return np.clip(volume / top, 0, 1).astype(np.float32) if top > 0 else np.zeros_like(volume)


def load_msd(folder, n: int | None = None, label_names=None) -> Volumes:
    """Read a Medical Segmentation Decathlon task folder (dataset.json, imagesTr/, labelsTr/) (notebook 08).

    ``n`` reads only the first ``n`` scans listed. Each image needs its label
    file, of the same shape; otherwise a plain message names the scan.
    """
    folder = Path(folder)
    listing = folder / "dataset.json"
    if not listing.is_file():
        raise RadkitError(f"{folder.name}/ has no dataset.json, so it is not a Decathlon task folder.",
                          "Point to the folder that holds dataset.json, imagesTr/ and labelsTr/.")
    info = json.loads(listing.read_text())
    entries = info.get("training", [])[:n]
    names = label_names or tuple(info.get("labels", {}).get(str(i), str(i)) for i in range(len(info.get("labels", {}))))
    volumes = Volumes([], [], [], [], tuple(names), f"Decathlon {info.get('name', folder.name)} ({folder.name})", True,
                      orientation=CANONICAL, modality=_modality_code(info.get("modality", {}).get("0", "")))
    turned = {}
    for entry in entries:
        image_path, label_path = folder / entry["image"], folder / entry["label"]
        if not label_path.is_file():
            raise RadkitError(f"The scan {image_path.name} has no label file (expected labelsTr/{label_path.name}).",
                              "Copy the missing label file, or remove the scan from dataset.json.")
        image, spacing, _, note = _read_nifti(image_path)
        label, _ = read_nifti(label_path)
        if label.shape != image.shape:
            raise RadkitError(f"The label of {image_path.name} has shape {label.shape} but the image {image.shape}.",
                              "Each label volume must match its image voxel for voxel; check that the pair belongs together.")
        if note:
            turned.setdefault(note.split(" (")[0], []).append(image_path.name.split(".")[0])
        volumes.images.append(scale_intensity(image))
        volumes.labels.append(np.rint(label).astype(np.uint8))
        volumes.spacings.append(spacing)
        volumes.ids.append(image_path.name.split(".")[0])
        volumes.files.append(image_path)
    for what, ids in turned.items():
        volumes.notes.append(f"{len(ids)} scan{'s' * (len(ids) != 1)} {what} (e.g. {ids[0]}): "
                             "every scan here is RAS, the same anatomy along the same axis")
    volumes.notes.append("each scan is scaled to 0..1 on its own (MRI has no fixed units; "
                         "some files store whole numbers 0..255, others decimals)")
    return volumes


def _modality_code(name: str) -> str:
    """A Decathlon modality name ("MRI", "CT", "T2"...) as DICOM's code ("MR", "CT")."""
    name = str(name).upper()
    return "CT" if "CT" in name else "MR" if name.startswith(("MR", "T1", "T2", "FLAIR", "ADC", "DWI")) else name


def load_phantom_mri(n: int = 24, seed: int = 0) -> Volumes:
    """Practice MRI-like volumes with a left-atrium-like label, drawn by radkit (offline default, notebook 08)."""
    from radkit.phantoms import cardiac_mris

    drawn = cardiac_mris(n, shape=PHANTOM_SHAPE, seed=seed)
    # scaled as every real scan is when read, so a phantom written out and measured again is seen the same way
    return Volumes([scale_intensity(v) for v in drawn["volumes"]], list(drawn["labels"].astype(np.uint8)), [PHANTOM_SPACING] * n,
                   [f"phantom {i:03d}" for i in range(n)], PHANTOM_LABELS, "RadKit phantom cardiac MRI", False,
                   notes=["slices along the first axis; not real patients"], modality="MR")


def _decathlon_folder(key: str, task: str) -> Path | None:
    for base in filter(None, (config.local_data_dir(), config.data_dir())):
        candidate = base / key / task
        if (candidate / "dataset.json").is_file():
            return candidate
    return None


def _decathlon_task(key: str) -> Path:
    """The unpacked task folder of a Decathlon card: found on this computer, else fetched and unpacked."""
    from radkit import download, registry

    card = registry.get(key)
    archive_name = next(iter(card.files.values())).name if card.files else ""
    if not archive_name.endswith(".tar"):
        raise RadkitError(f"{card.title} is not a Decathlon task RadKit can unpack.",
                          "Use msd_hippocampus or msd_heart (see datasets/).")
    task = archive_name[:-len(".tar")]
    folder = _decathlon_folder(key, task)
    if folder is None:
        # The tar: a copy already here (e.g. from `radkit fetch KEY`, also offline), else a download;
        # then unpacked once into the data folder.
        archive = download.fetch(key)
        download.extract_tar(archive, config.data_dir() / key)
        folder = _decathlon_folder(key, task)
        if folder is None:
            raise RadkitError(f"{archive.name} did not hold {task}/dataset.json.",
                              f"Download the official archive again (`radkit fetch {key}`).")
    return folder


def load_decathlon(key: str = "msd_heart", n: int | None = None, label_names=None) -> Volumes:
    """A Medical Segmentation Decathlon task by its card (``msd_hippocampus``, ``msd_heart``): a copy on this
    computer, else the official tar (downloaded once, checked, unpacked safely) (notebook 08).

    Task02 Heart (the left atrium, 435 MB) is an online option: ``load_decathlon("msd_heart")``.
    Raises RadkitError when the data cannot be had.
    """
    from radkit import registry

    folder = _decathlon_task(key)
    return load_msd(folder, n=n, label_names=label_names or registry.get(key).label_names or None)


def load_hippocampus(n: int | None = None, source: str = "auto", seed: int = 0) -> Volumes:
    """Hippocampus MRI with labels (Decathlon Task04) if it can, phantom volumes otherwise (notebook 08).

    ``source``: ``"auto"`` (a copy on this computer, else a download of 27 MB,
    else phantoms), ``"real"`` (never phantoms) or ``"phantom"``.
    """
    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not understood.", "Use 'auto', 'real' or 'phantom'.")
    why = "asked for phantoms"
    if source != "phantom":
        try:
            folder = _decathlon_task(HIPPOCAMPUS)
        except RadkitError as error:
            if source == "real":
                raise
            why = error.problem
        else:  # a damaged copy on this computer is said plainly, not hidden behind phantoms
            return load_msd(folder, n=n, label_names=HIPPOCAMPUS_LABELS)
    print(f"No hippocampus MRI available ({why}): using practice phantoms instead, MRI-like volumes "
          "with a left-atrium-like label. Results below are about phantoms, not patients.")
    return load_phantom_mri(n or 24, seed=seed)


def split_by_patient(volumes: Volumes, val: float = 0.15, test: float = 0.2, seed: int = 0):
    """Split scans into training, validation and test sets by patient, never by slice (notebook 08).

    Neighbouring slices of one scan look almost alike: slices of one patient in
    both training and test would make the test far too easy (notebook 02's leakage).
    """
    if len(volumes) < 3:
        raise RadkitError(f"Only {len(volumes)} scans: a split needs at least 3.", "Load more scans.")
    order = np.random.default_rng(seed).permutation(len(volumes))
    n_test, n_val = max(1, round(test * len(volumes))), max(1, round(val * len(volumes)))
    return (volumes.subset(order[n_test + n_val:]), volumes.subset(order[n_test:n_test + n_val]),
            volumes.subset(order[:n_test]))


# ---------------------------------------------------------------- slices for a 2-D model

def _pad_offsets(shape, size) -> tuple[int, int]:
    if shape[0] > size[0] or shape[1] > size[1]:
        raise RadkitError(f"Slices of {shape[0]} x {shape[1]} voxels do not fit in {size[0]} x {size[1]}.",
                          f"Use a larger size, e.g. size=({-(-shape[0] // 32) * 32}, {-(-shape[1] // 32) * 32}).")
    return (size[0] - shape[0]) // 2, (size[1] - shape[1]) // 2


def to_slices(volumes: Volumes, size=(64, 64), context: int = 0):
    """Cut every scan into slices along its first axis, padded to ``size``: returns ``(x, y, where)`` (notebook 08).

    ``x`` is model input (N, H, W, channels), ``y`` the label slices (N, H, W) and
    ``where`` the (scan, slice) each came from, for ``from_slices``. With ``context=1``
    each slice comes with its neighbour on either side as extra channels (2.5-D: like a
    radiologist scrolling up and down a little), so channels = 1 + 2 x context; at the
    first and last slice the missing neighbour is the edge slice repeated.
    """
    if int(context) != context or context < 0:
        raise RadkitError(f"context={context!r} is not a number of neighbouring slices.",
                          "Use 0 (one slice) or 1 (the slice and one neighbour on either side).")
    xs, ys, where = [], [], []
    for scan, (image, label) in enumerate(zip(volumes.images, volumes.labels)):
        if image.shape != label.shape:
            raise RadkitError(f"Scan {volumes.ids[scan]}: image {image.shape} and label {label.shape} differ in shape.",
                              "Each label volume must match its image voxel for voxel.")
        if image.ndim != 3:
            raise RadkitError(f"Scan {volumes.ids[scan]} has shape {image.shape}, not a 3-D volume.",
                              "Give one 3-D volume per scan.")
        top, left = _pad_offsets(image.shape[1:], size)
        padded = np.zeros((len(image), *size), np.float32)
        padded[:, top:top + image.shape[1], left:left + image.shape[2]] = image
        padded_label = np.zeros((len(image), *size), np.uint8)
        padded_label[:, top:top + image.shape[1], left:left + image.shape[2]] = label
        k = np.arange(len(image))
        neighbours = [np.clip(k + step, 0, len(image) - 1) for step in range(-int(context), int(context) + 1)]
        xs.append(np.stack([padded[n] for n in neighbours], axis=-1))
        ys.append(padded_label)
        where += [(scan, k) for k in range(len(image))]
    return np.concatenate(xs), np.concatenate(ys), where


def to_labels(probabilities, threshold: float = 0.5) -> np.ndarray:
    """Model output -> whole-number labels: a voxel is a structure when P(not background) > ``threshold``,
    and then the most likely structure (notebook 08)."""
    p = np.asarray(probabilities)
    if p.shape[-1] == 1:
        return (p[..., 0] > threshold).astype(np.uint8)
    foreground = 1.0 - p[..., 0] > threshold
    return np.where(foreground, np.argmax(p[..., 1:], axis=-1) + 1, 0).astype(np.uint8)


def from_slices(slices, where, volumes: Volumes) -> list:
    """Put per-slice answers (N, H, W[, C]) back together into one volume per scan, un-padded (notebook 08)."""
    slices = np.asarray(slices)
    if len(slices) != len(where):
        raise RadkitError(f"{len(slices)} slices but {len(where)} positions.", "Use the `where` from the same to_slices call.")
    out = [np.zeros((*label.shape, *slices.shape[3:]), slices.dtype) for label in volumes.labels]
    for answer, (scan, k) in zip(slices, where):
        shape = out[scan].shape[1:3]
        top, left = _pad_offsets(shape, answer.shape[:2])
        out[scan][k] = answer[top:top + shape[0], left:left + shape[1]]
    return out


def predict_probabilities(model, volumes: Volumes, batch_size: int = 128) -> list:
    """The model's probabilities for every voxel of every scan, slice by slice: one (X, Y, Z, classes) array per scan.

    ``volumes`` may also be one 3-D array (already scaled as in training). Scans in an orientation other
    than RAS are refused: the model learned RAS slices (turn them with ``to_canonical`` or ``read_scan``).
    """
    if not isinstance(volumes, Volumes):
        image = np.asarray(volumes, np.float32)
        if image.ndim != 3:
            raise RadkitError(f"predict_probabilities needs scans or one 3-D volume; got shape {image.shape}.",
                              "Give one scan, e.g. volumes.read_scan(path).array scaled with scale_intensity.")
        volumes = Volumes([image], [np.zeros(image.shape, np.uint8)], [(1.0, 1.0, 1.0)], ["scan"], (), "", False,
                          orientation=CANONICAL)
    if volumes.orientation and volumes.orientation != CANONICAL:
        raise RadkitError(f"These scans are in {volumes.orientation} orientation, but the model learned from "
                          f"{CANONICAL} scans: it would see the anatomy along the wrong axes and measure wrongly.",
                          "Turn each scan first: array, spacing, affine, note = volumes.to_canonical(array, affine); "
                          "volumes.read_scan and read_nifti already do.")
    channels = model.input_shape[-1]  # 1, or 3 for a 2.5-D model (a slice and its two neighbours)
    x, _, where = to_slices(volumes, tuple(model.input_shape[1:3]), context=(channels - 1) // 2)
    return from_slices(model.predict(x, batch_size=batch_size, verbose=0), where, volumes)


# ---------------------------------------------------------------- measuring your own patient

def learned_scope(volumes: Volumes, model=None) -> dict:
    """What a segmentation model learned from, to check a new scan against (notebook 08): modality,
    orientation, voxel size, largest scan, how intensities were scaled, the scaled scans' mean brightness,
    and the structures. Keep it beside the model with ``save_scope``."""
    means = [float(np.mean(v)) for v in volumes.images]
    return {"modality": volumes.modality, "orientation": volumes.orientation or CANONICAL,
            "spacing": [round(float(v), 4) for v in np.median(np.array(volumes.spacings, float), axis=0)],
            "largest_scan": [int(v) for v in np.array([v.shape for v in volumes.images]).max(axis=0)],
            "intensity": "each scan scaled to 0..1 by its 99.5th percentile (scale_intensity)",
            "mean_intensity": [round(min(means), 4), round(max(means), 4)],
            "label_names": list(volumes.label_names),
            "slice_size": list(model.input_shape[1:3]) if model is not None else None}


def save_scope(scope: dict, path, overwrite: bool = False) -> Path:
    """Save a model's ``learned_scope`` as a small JSON file (e.g. beside the model) (notebook 08)."""
    path = Path(path)
    _refuse_overwrite(path, overwrite)
    text = json.dumps(scope, indent=1)
    return write_atomically(path, lambda temporary: Path(temporary).write_text(text), _replace_if(overwrite))


def load_scope(path) -> dict:
    """Read a scope saved by ``save_scope`` (notebook 08)."""
    return json.loads(Path(path).read_text())


@dataclass
class Measurement:
    """What ``measure_patient`` gives back: the scan as the model saw it (``image``, RAS, 0..1), the
    ``outline`` (whole numbers per voxel), ``spacing`` (mm), ``volumes_ml`` per structure, the ``figure``
    through the slices, and ``changes``: every check and change, in words."""

    image: np.ndarray
    outline: np.ndarray
    spacing: tuple
    volumes_ml: dict
    figure: object
    changes: list
    scan: Scan


def measure_patient(path, model, scope: dict, series=None, threshold: float = 0.5, reorient: bool = True,
                    show: bool = True) -> Measurement:
    """Outline and measure one patient's scan (a DICOM series folder or a NIfTI file) with a trained model,
    in one call (notebook 08).

    Before the model sees the scan, it is checked against ``scope`` (``learned_scope`` of the training
    scans): the modality must match; the axes are turned to RAS; a voxel size more than 10 % off is
    resampled to the learned one; a scan larger than the model's slices is refused; intensities are scaled
    as in training and compared with the training scans' brightness. Everything checked or changed is
    printed and kept in ``changes``. ``reorient=False`` skips the turning (only to see what goes wrong).

        result = volumes.measure_patient("my_series/", unet, scope)
        result.volumes_ml        # {"anterior": 1.7, "posterior": 1.6}
    """
    from scipy import ndimage

    from radkit import masks

    scan = read_scan(path, series=series, canonical=reorient)
    names = list(scope.get("label_names") or [])
    changes = [f"read {scan.source}: {scan.array.shape} voxels of {_mm(scan.spacing)} mm"]
    learned_modality = scope.get("modality", "")
    if scan.modality and learned_modality and scan.modality != learned_modality:
        raise RadkitError(f"This scan is {scan.modality}, but the model learned from {learned_modality} scans: "
                          "its outline would mean nothing here.",
                          f"Use a {learned_modality} scan, or a model trained on {scan.modality}.")
    changes.append(f"modality {scan.modality}, as learned" if scan.modality else
                   f"the file does not say its modality: taken to be {learned_modality or 'what the model learned'}")
    if reorient:
        turned = [n for n in scan.notes if n.startswith("turned")]
        changes.append(turned[0] if turned else f"already {CANONICAL}, as learned")
    else:
        changes.append(f"NOT turned (reorient=False): axes as stored, {scan.orientation}; "
                       f"the model learned {scope.get('orientation', CANONICAL)}")
    array, learned = np.asarray(scan.array, np.float32), np.asarray(scope["spacing"], float)
    have = np.asarray(scan.spacing, float)
    if np.any(np.abs(have - learned) > 0.1 * learned):
        array = ndimage.zoom(array, have / learned, order=1)
        changes.append(f"voxel size {_mm(have)} mm resampled to the learned {_mm(learned)} mm")
    else:
        changes.append(f"voxel size {_mm(have)} mm, as learned")
    size = tuple(model.input_shape[1:3])
    if array.shape[1] > size[0] or array.shape[2] > size[1]:
        largest = tuple(scope.get("largest_scan") or ())
        raise RadkitError(f"This scan is {array.shape} voxels; the model outlines slices of at most {size} "
                          f"and learned from scans of at most {largest} voxels (crops around the structure).",
                          "Crop the scan around the structure first (as the training scans were), then measure it.")
    low, high = float(array.min()), float(array.max())
    image = scale_intensity(array)
    changes.append(f"intensities {low:.4g} to {high:.4g} scaled to 0..1, as in training")
    lowest, highest = scope.get("mean_intensity") or (0.0, 1.0)
    if not 0.8 * lowest <= image.mean() <= 1.2 * highest:
        changes.append(f"WARNING: mean brightness {image.mean():.2f} after scaling, the training scans "
                       f"{lowest:.2f} to {highest:.2f}: not like them; check the outline")
    outline = to_labels(predict_probabilities(model, image)[0], threshold)
    spacing = tuple(float(v) for v in learned)
    measured = {name: round(masks.volume_ml(outline, spacing, k), 3) for k, name in enumerate(names) if k > 0}
    figure = slices_picture(image, outline, spacing, names) if show else None
    for change in changes:
        print(f"  {change}")
    print("  volume: " + ", ".join(f"{name} {ml:.2f} mL" for name, ml in measured.items()))
    return Measurement(image, outline, spacing, measured, figure, changes, scan)


def _mm(values) -> str:
    """A voxel size as people write it: 1 x 1.2 x 2."""
    return " x ".join(f"{float(v):g}" for v in values)


def slices_picture(image, outline, spacing=(1.0, 1.0, 1.0), label_names=(), n: int = 6, title: str = ""):
    """Up to ``n`` slices through the outlined structure (across the first axis), with a colour key (notebook 08)."""
    import matplotlib.pyplot as plt

    from radkit.masks import colour_key, overlay_rgb

    image, outline = np.asarray(image), np.asarray(outline)
    filled = np.flatnonzero((outline > 0).reshape(len(outline), -1).any(axis=1))
    picks = filled if len(filled) else np.arange(len(image))
    picks = picks[np.linspace(0, len(picks) - 1, min(n, len(picks))).round().astype(int)]
    fig, axes = plt.subplots(1, len(picks), figsize=(1.9 * len(picks), 2.6), squeeze=False)
    for ax, k in zip(axes[0], picks):
        ax.imshow(overlay_rgb(_display(image[k], CANONICAL, 0), None, _display(outline[k], CANONICAL, 0)),
                  aspect=spacing[2] / spacing[1], interpolation="nearest")
        ax.set_title(f"slice {k}", fontsize=9)
        ax.set_axis_off()
    colour_key(fig, label_names[1:] if label_names else (), truth=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.92 if title else 1))
    return fig


# ---------------------------------------------------------------- pictures

def _display(plane, orientation: str, axis: int):
    """A slice as shown on screen: for a known orientation, the later axis points up (superior/anterior)."""
    return np.asarray(plane).T[::-1] if orientation else np.asarray(plane)


def plane_names(orientation: str) -> list[str]:
    """The anatomical plane you see when cutting across each axis ("RAS" -> sagittal, coronal, axial)."""
    return [f"{PLANES[c]} (axis {i})" for i, c in enumerate(orientation)] if orientation else \
        [f"across axis {i}" for i in range(3)]


def show_planes(volume, truth=None, pred=None, spacing=(1.0, 1.0, 1.0), orientation: str = "", point=None,
                title: str = "", label_names=()):
    """Three planes through one point of a scan, with outlines (truth green, model orange) (notebook 08).

    ``point`` defaults to the centre of the labelled structure (or of the scan). ``title`` goes above
    the panels; a colour key goes below them when there is an outline (``label_names`` name the structures,
    background first).
    """
    from radkit.masks import colour_key

    import matplotlib.pyplot as plt

    from radkit.masks import overlay_rgb

    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise RadkitError(f"show_planes needs a 3-D volume; got shape {volume.shape}.", "Give one scan.")
    if point is None:
        mask = np.asarray(truth) > 0 if truth is not None and np.any(truth) else None
        point = (np.argwhere(mask).mean(0) if mask is not None else np.array(volume.shape) / 2).astype(int)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    names = plane_names(orientation)
    for axis, ax in enumerate(axes):
        take = lambda a: None if a is None else _display(np.take(a, point[axis], axis=axis), orientation, axis)  # noqa: E731
        rest = [s for i, s in enumerate(spacing) if i != axis]
        aspect = rest[1] / rest[0] if orientation else rest[0] / rest[1]
        ax.imshow(overlay_rgb(take(volume), take(truth), take(pred)), aspect=aspect, interpolation="nearest")
        ax.set_title(f"{names[axis]}, slice {point[axis]}", fontsize=9)
        ax.set_axis_off()
    bottom = 0.0
    if truth is not None or pred is not None:
        structures = tuple(label_names[1:]) if pred is not None else ()
        colour_key(fig, structures or (("structure",) if pred is not None else ()), truth=truth is not None)
        bottom = 0.08
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, bottom, 1, 0.93 if title else 1))
    return fig


def save_gif(volume, path, truth=None, pred=None, orientation: str = "", fps: int = 6, zoom: int = 4,
             overwrite: bool = False) -> Path:
    """An animated GIF through the slices (first axis) with outlines: truth green, model orange (notebook 08)."""
    from PIL import Image

    from radkit.masks import overlay_rgb

    volume, path = np.asarray(volume), Path(path)
    if volume.ndim != 3:
        raise RadkitError(f"save_gif needs a 3-D volume; got shape {volume.shape}.", "Give one scan.")
    if not path.name.endswith(".gif"):
        raise RadkitError(f"{path.name} does not end in .gif.", "Use a name such as scan.gif.")
    _refuse_overwrite(path, overwrite)
    frames = []
    for k in range(len(volume)):
        rgb = overlay_rgb(_display(volume[k], orientation, 0),
                          None if truth is None else _display(np.asarray(truth)[k], orientation, 0),
                          None if pred is None else _display(np.asarray(pred)[k], orientation, 0))
        rgb = np.repeat(np.repeat(rgb, zoom, axis=0), zoom, axis=1)  # bigger, with crisp voxels
        frames.append(Image.fromarray(np.round(rgb * 255).astype(np.uint8)))
    return write_atomically(path, lambda temporary: frames[0].save(
        temporary, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0),
        _replace_if(overwrite))
