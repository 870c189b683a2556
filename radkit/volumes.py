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


def read_nifti(path, allow_4d: bool = False) -> tuple[np.ndarray, tuple[float, ...]]:
    """Read a NIfTI volume: returns ``(array, spacing)``, the voxel size in mm per axis (notebook 08).

    A 4-D file (a time series, or several sequences in one file) is refused
    unless ``allow_4d=True``: segmentation here works on one 3-D volume.
    """
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
    return np.asarray(data), spacing


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

    The new series gets its own identifiers, so a viewer shows it beside the original.
    ``out_folder`` must be new or empty: radkit does not mix its files with others.
    """
    import pydicom

    from radkit.dicom import load_series, read, save

    series = load_series(template_folder)
    volume = np.asarray(volume)
    if volume.shape != series.volume.shape:
        raise RadkitError(f"The volume has shape {volume.shape} but the series {series.volume.shape}.",
                          "Give a volume made from this series (same slices, rows and columns).")
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

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices) -> Volumes:
        """The scans at ``indices``: images, labels, spacings and ids move together."""
        pick = [int(i) for i in indices]
        return Volumes([self.images[i] for i in pick], [self.labels[i] for i in pick],
                       [self.spacings[i] for i in pick], [self.ids[i] for i in pick],
                       self.label_names, self.source, self.is_real, self.orientation, list(self.notes),
                       [self.files[i] for i in pick] if self.files else [])

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
    volumes = Volumes([], [], [], [], tuple(names), f"Decathlon {info.get('name', folder.name)} ({folder.name})", True)
    orientations = set()
    for entry in entries:
        image_path, label_path = folder / entry["image"], folder / entry["label"]
        if not label_path.is_file():
            raise RadkitError(f"The scan {image_path.name} has no label file (expected labelsTr/{label_path.name}).",
                              "Copy the missing label file, or remove the scan from dataset.json.")
        image, spacing = read_nifti(image_path)
        label, _ = read_nifti(label_path)
        if label.shape != image.shape:
            raise RadkitError(f"The label of {image_path.name} has shape {label.shape} but the image {image.shape}.",
                              "Each label volume must match its image voxel for voxel; check that the pair belongs together.")
        import nibabel

        orientations.add("".join(nibabel.aff2axcodes(nibabel.load(image_path).affine)))
        volumes.images.append(scale_intensity(image))
        volumes.labels.append(np.rint(label).astype(np.uint8))
        volumes.spacings.append(spacing)
        volumes.ids.append(image_path.name.split(".")[0])
        volumes.files.append(image_path)
    volumes.orientation = orientations.pop() if len(orientations) == 1 else ""
    volumes.notes.append("each scan is scaled to 0..1 on its own (MRI has no fixed units; "
                         "some files store whole numbers 0..255, others decimals)")
    return volumes


def load_phantom_mri(n: int = 24, seed: int = 0) -> Volumes:
    """Practice MRI-like volumes with a left-atrium-like label, drawn by radkit (offline default, notebook 08)."""
    from radkit.phantoms import cardiac_mris

    drawn = cardiac_mris(n, shape=PHANTOM_SHAPE, seed=seed)
    return Volumes(list(drawn["volumes"]), list(drawn["labels"].astype(np.uint8)), [PHANTOM_SPACING] * n,
                   [f"phantom {i:03d}" for i in range(n)], PHANTOM_LABELS, "RadKit phantom cardiac MRI", False,
                   notes=["slices along the first axis; not real patients"])


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
    """The model's probabilities for every voxel of every scan, slice by slice: one (X, Y, Z, classes) array per scan."""
    channels = model.input_shape[-1]  # 1, or 3 for a 2.5-D model (a slice and its two neighbours)
    x, _, where = to_slices(volumes, tuple(model.input_shape[1:3]), context=(channels - 1) // 2)
    return from_slices(model.predict(x, batch_size=batch_size, verbose=0), where, volumes)


# ---------------------------------------------------------------- pictures

def _display(plane, orientation: str, axis: int):
    """A slice as shown on screen: for a known orientation, the later axis points up (superior/anterior)."""
    return np.asarray(plane).T[::-1] if orientation else np.asarray(plane)


def plane_names(orientation: str) -> list[str]:
    """The anatomical plane you see when cutting across each axis ("RAS" -> sagittal, coronal, axial)."""
    return [f"{PLANES[c]} (axis {i})" for i, c in enumerate(orientation)] if orientation else \
        [f"across axis {i}" for i in range(3)]


def show_planes(volume, truth=None, pred=None, spacing=(1.0, 1.0, 1.0), orientation: str = "", point=None):
    """Three planes through one point of a scan, with outlines (truth green, model orange) (notebook 08).

    ``point`` defaults to the centre of the labelled structure (or of the scan).
    """
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
    fig.tight_layout()
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
