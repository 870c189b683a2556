"""Exercises for notebook 01_medical_images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radkit import dicom
from radkit.exercises import Exercise, close_to


def _chest_tags(modality, photometric, needs_inverting):
    ds = dicom.read(dicom.example_path("RG1_UNCR.dcm"))
    if str(modality) != ds.Modality:
        return "modality is not the value of the Modality tag."
    if str(photometric) != ds.PhotometricInterpretation:
        return "photometric is not the value of the PhotometricInterpretation tag."
    if bool(needs_inverting) != (ds.PhotometricInterpretation == "MONOCHROME1"):
        return "needs_inverting is not right: which photometric interpretation shows low values as white?"
    return None


def _deidentified(ds, removed):
    left = [k for k in ("PatientName", "PatientID", "PatientBirthDate") if k in ds]
    if left:
        return f"{', '.join(left)} is still in the file: call dicom.deidentify on it."
    if not isinstance(removed, list) or not any("Patient's Name" in item for item in removed):
        return "removed should be the list that dicom.deidentify returns."
    original = dicom.read(Path(ds.filename))
    if not np.array_equal(ds.pixel_array, original.pixel_array):
        return "The pixels changed: de-identification must keep the image as it is."
    return None


def _hounsfield(hu):
    ct = dicom.read(dicom.example_path("CT_small.dcm"))
    expected = dicom.pixels(ct)
    hu = np.asarray(hu)
    if hu.shape != expected.shape:
        return f"hu should be a whole picture of shape {expected.shape}; yours has shape {hu.shape}."
    if np.allclose(hu, ct.pixel_array * float(ct.RescaleSlope)):
        return "The intercept is missing: add RescaleIntercept after multiplying by the slope."
    return close_to(hu, expected, tolerance=1e-3, what="Your HU picture")


def _window_bounds(low, high):
    level, width = dicom.CT_WINDOWS["mediastinum"]
    if np.ndim(low) or np.ndim(high):
        return "low and high should be single numbers."
    if low > high:
        return "low is above high: low is the value shown black, high the value shown white."
    return close_to(low, level - width / 2, what="low") or close_to(high, level + width / 2, what="high")


q1 = Exercise(
    "q1", _chest_tags,
    hint="Tags are read with a dot and their keyword: chest.Modality. MONOCHROME1 means low values are white.",
    solution='modality = chest.Modality\nphotometric = chest.PhotometricInterpretation\n'
             'needs_inverting = photometric == "MONOCHROME1"',
)

q2 = Exercise(
    "q2", _deidentified,
    hint="dicom.deidentify(mr) changes mr itself and returns the list of what it removed.",
    solution="removed = dicom.deidentify(mr)",
)

q3 = Exercise(
    "q3", _hounsfield,
    hint="HU = stored value x RescaleSlope + RescaleIntercept. Read both from ct (ct.RescaleSlope ...) "
         "and turn them into numbers with float(...).",
    solution="slope = float(ct.RescaleSlope)\nintercept = float(ct.RescaleIntercept)\n"
             "hu = ct.pixel_array * slope + intercept",
)

q4 = Exercise(
    "q4", _window_bounds,
    hint="A window is centred on the level and is width wide: half the width below the level, half above.",
    solution="low = level - width / 2\nhigh = level + width / 2",
)
