"""Exercises for notebook 09_browser_app."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from radkit import deploy
from radkit.exercises import Exercise, diagnose_number, number_problem, short


def _expected_ratio(model) -> float:
    """float16 size / float32 size, from two fresh exports the learner's cell cannot touch."""
    with tempfile.TemporaryDirectory(prefix="radkit-check-") as folder:
        sizes = [deploy.folder_size(deploy.export_tfjs(model, Path(folder) / kind, float16=kind == "f16"))
                 for kind in ("f32", "f16")]
    return sizes[1] / sizes[0]


def _float16_export(small, ratio, exported, model):
    if not isinstance(small, (str, Path)):
        return f"small should be the folder that export_tfjs returned; it is {short(small)}."
    small = Path(small)
    if not (small / "radkit.json").is_file():
        return "small should be the folder that export_tfjs returned."
    metadata = json.loads((small / "radkit.json").read_text())
    if metadata["weights"] != "float16":
        return "That export still has float32 weights: add float16=True."
    if small.resolve() == Path(exported).resolve():
        # radkit wrote that folder: put the float32 export back, so the rest of the notebook keeps working
        deploy.export_tfjs(model, exported, label_names=metadata["labels"], title=metadata["title"])
        return ("the float16 export went into the float32 folder (exported) and replaced it, so the ratio "
                "compared the float16 model with itself. The float32 export has been put back; export into "
                "work / \"pneumonia_cnn_f16\" instead.")
    if number_problem(ratio, "ratio") is None and np.isclose(float(ratio), 1.0):
        return "a ratio of 1 compares a folder with itself: divide by the size of exported, the float32 one."
    # a few bytes of radkit.json may differ (the title), so about 1% tolerance
    return diagnose_number(ratio, _expected_ratio(model), "ratio", 0.01)


def _python_probability(probability, model, image, folder):
    if np.ndim(probability) != 0:
        return "probability should be one number: take [0, 0] of what model.predict returns."
    expected = float(model.predict(deploy.preprocess(image, folder), verbose=0)[0, 0])
    return diagnose_number(probability, expected, "probability", 1e-5, fraction=True)


def _outside_requests(outside, requests, origin):
    if not isinstance(outside, list):
        return f"outside should be a list of web addresses; it is {short(outside)}."
    expected = [url for url in requests if not url.startswith(origin)]
    if sorted(outside) == sorted(expected):
        return None
    if outside and all(url.startswith(origin) for url in outside):
        return "these are the app's own requests: keep those that do NOT start with origin."
    return "outside should hold every address in requests that does not start with origin, and nothing else."


q1 = Exercise(
    "q1", _float16_export,
    hint="Call deploy.export_tfjs again with float16=True and another folder; "
         "deploy.folder_size(folder) gives the size in bytes.",
    solution='small = deploy.export_tfjs(model, work / "pneumonia_cnn_f16", label_names=data.label_names, float16=True)\n'
             'ratio = deploy.folder_size(small) / deploy.folder_size(exported)',
    wrong=('small = deploy.export_tfjs(model, work / "pneumonia_cnn", label_names=data.label_names, float16=True)\n'
           'ratio = deploy.folder_size(small) / deploy.folder_size(exported)',
           'small = deploy.export_tfjs(model, work / "pneumonia_cnn_f16", label_names=data.label_names, float16=True)\n'
           'ratio = deploy.folder_size(exported) / deploy.folder_size(small)',
           'small = deploy.export_tfjs(model, work / "pneumonia_cnn_f16", label_names=data.label_names)\n'
           'ratio = deploy.folder_size(small) / deploy.folder_size(exported)'),
)
q2 = Exercise(
    "q2", _python_probability,
    hint="deploy.preprocess(image, exported) prepares the picture as the page does; "
         "model.predict(..., verbose=0) then gives an array of shape (1, 1).",
    solution="probability = model.predict(deploy.preprocess(film, exported), verbose=0)[0, 0]",
    wrong=("probability = model.predict(deploy.preprocess(film, exported), verbose=0)",
           "probability = 1 - model.predict(deploy.preprocess(film, exported), verbose=0)[0, 0]"),
)
q3 = Exercise(
    "q3", _outside_requests,
    hint="[url for url in requests if not url.startswith(origin)] keeps the addresses that do not start "
         "with the app's own address.",
    solution="outside = [url for url in requests if not url.startswith(origin)]",
    wrong=("outside = [url for url in requests if url.startswith(origin)]",
           "outside = len([url for url in requests if not url.startswith(origin)])"),
)
