"""Exercises for notebook 01_medical_images."""

from __future__ import annotations

import numpy as np

from radkit import dicom
from radkit.deidentification import DeidentificationReport
from radkit.exercises import Exercise, close_to


def _chest_tags(modality, photometric, needs_inverting):
    ds = dicom.read(dicom.example_path("RG1_UNCR.dcm"))
    if str(modality) != ds.Modality:
        return "modality is not the value of the Modality tag."
    if str(photometric) != ds.PhotometricInterpretation:
        return "photometric is not the value of the PhotometricInterpretation tag."
    if not isinstance(needs_inverting, (bool, np.bool_)):
        return (f"needs_inverting should be True or False (without quotes), not {type(needs_inverting).__name__}: "
                "a comparison such as photometric == \"...\" gives one.")
    if bool(needs_inverting) != (ds.PhotometricInterpretation == "MONOCHROME1"):
        return "needs_inverting is not right: which photometric interpretation shows low values as white?"
    return None


def _deidentified(ds, report):
    original = dicom.read(dicom.example_path("MR_small.dcm"))
    left = [k for k in ("PatientName", "PatientID", "PatientBirthDate")
            if original.get(k) and str(original.get(k)) in str(ds.get(k, ""))]
    if left:
        verb = "holds" if len(left) == 1 else "hold"
        return f"{', '.join(left)} still {verb} the patient's value: call dicom.deidentify on mr itself."
    if not isinstance(report, DeidentificationReport):
        return f"report should be what dicom.deidentify returns (its report), not {type(report).__name__}."
    if not np.array_equal(ds.pixel_array, original.pixel_array):
        return "The pixels changed: de-identification must keep the image as it is."
    return None


def _hounsfield(hu):
    ct = dicom.read(dicom.example_path("CT_small.dcm"))
    expected = dicom.pixels(ct)
    hu = np.asarray(hu)
    if hu.shape != expected.shape:
        return f"hu should be a whole picture of shape {expected.shape}; yours has shape {hu.shape}."
    slope, intercept = float(ct.RescaleSlope), float(ct.RescaleIntercept)
    if np.allclose(hu, ct.pixel_array * slope):
        return "The intercept is missing: add RescaleIntercept after multiplying by the slope."
    if np.allclose(hu, ct.pixel_array * slope - intercept):
        return "You subtracted the intercept: add it (it is already negative here)."
    if not np.allclose(hu, expected, atol=1e-3):
        return (f"Your HU picture runs from {float(np.min(hu)):.0f} to {float(np.max(hu)):.0f}: air in the lungs "
                "should be near -900 and bone above 1000. Use stored value x slope + intercept.")
    return None


def _window_bounds(low, high):
    level, width = dicom.CT_WINDOWS["mediastinum"]
    if np.ndim(low) or np.ndim(high):
        return "low and high should be single numbers."
    if low > high:
        return "low is above high: low is the value shown black, high the value shown white."
    if np.isclose(low, level - width) and np.isclose(high, level + width):
        return "That window is twice too wide: the width is the whole range, half below the level and half above."
    return close_to(low, level - width / 2, what="low") or close_to(high, level + width / 2, what="high")


q1 = Exercise(
    "q1", _chest_tags,
    hint="Tags are read with a dot and their keyword: chest.Modality. MONOCHROME1 means low values are white.",
    solution='modality = chest.Modality\nphotometric = chest.PhotometricInterpretation\n'
             'needs_inverting = photometric == "MONOCHROME1"',
    wrong=('modality = chest.Modality\nphotometric = chest.PhotometricInterpretation\nneeds_inverting = "yes"',
           'modality = chest.Modality\nphotometric = chest.PhotometricInterpretation\n'
           'needs_inverting = photometric == "MONOCHROME2"',
           'modality = "CT"\nphotometric = chest.PhotometricInterpretation\nneeds_inverting = True'),
)

q2 = Exercise(
    "q2", _deidentified,
    hint="dicom.deidentify(mr) changes mr itself and returns its report of what it did.",
    solution="report = dicom.deidentify(mr)",
    wrong=('report = dicom.deidentify(dicom.read(dicom.example_path("MR_small.dcm")))',  # a copy, not mr
           'dicom.deidentify(mr)\nreport = str(dicom.deidentify(mr))'),
)

q3 = Exercise(
    "q3", _hounsfield,
    hint="HU = stored value x RescaleSlope + RescaleIntercept. Read both from ct (ct.RescaleSlope ...) "
         "and turn them into numbers with float(...).",
    solution="slope = float(ct.RescaleSlope)\nintercept = float(ct.RescaleIntercept)\n"
             "hu = ct.pixel_array * slope + intercept",
    wrong=("slope = float(ct.RescaleSlope)\nintercept = float(ct.RescaleIntercept)\nhu = ct.pixel_array * slope",
           "slope = float(ct.RescaleSlope)\nintercept = float(ct.RescaleIntercept)\nhu = ct.pixel_array - intercept"),
)

q4 = Exercise(
    "q4", _window_bounds,
    hint="A window is centred on the level and is width wide: half the width below the level, half above.",
    solution="low = level - width / 2\nhigh = level + width / 2",
    wrong=("low = level - width\nhigh = level + width",
           "low = level + width / 2\nhigh = level - width / 2"),
)
