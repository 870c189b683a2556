"""Exercises for notebook 09_browser_app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from radkit import deploy
from radkit.exercises import Exercise, close_to


def _float16_export(small, ratio):
    small = Path(small)
    if not (small / "radkit.json").is_file():
        return "small should be the folder that export_tfjs returned."
    if json.loads((small / "radkit.json").read_text())["weights"] != "float16":
        return "That export still has float32 weights: add float16=True."
    full = small.parent / "pneumonia_cnn"
    if not (full / "model.json").is_file():
        return "Run the export cell above first (it writes the float32 model)."
    return close_to(ratio, deploy.folder_size(small) / deploy.folder_size(full), tolerance=1e-6, what="ratio")


def _python_probability(probability, model, image, folder):
    expected = float(model.predict(deploy.preprocess(image, folder), verbose=0)[0, 0])
    if np.ndim(probability) != 0:
        return "probability should be one number: take [0, 0] of what model.predict returns."
    return close_to(probability, expected, tolerance=1e-5, what="probability")


def _outside_requests(outside, report):
    if report is None:
        return None if outside == [] else "Without a browser there were no requests: outside should be []."
    expected = [url for url in report["requests"] if not url.startswith(report["origin"])]
    if not isinstance(outside, list):
        return "outside should be a list of web addresses."
    return None if sorted(outside) == sorted(expected) else (
        "outside should hold every address in report['requests'] that does not start with the app's own address.")


q1 = Exercise(
    "q1", _float16_export,
    hint="Call deploy.export_tfjs again with float16=True and another folder; "
         "deploy.folder_size(folder) gives the size in bytes.",
    solution='small = deploy.export_tfjs(model, work / "pneumonia_cnn_f16", label_names=data.label_names, float16=True)\n'
             'ratio = deploy.folder_size(small) / deploy.folder_size(exported)',
)
q2 = Exercise(
    "q2", _python_probability,
    hint="deploy.preprocess(image, exported) prepares the picture as the page does; "
         "model.predict(...) then gives an array of shape (1, 1).",
    solution="probability = model.predict(deploy.preprocess(film, exported), verbose=0)[0, 0]",
)
q3 = Exercise(
    "q3", _outside_requests,
    hint="Loop over report['requests'] and keep the addresses that do not start with report['origin'].",
    solution="outside = [url for url in report['requests'] if not url.startswith(report['origin'])] if report else []",
)
