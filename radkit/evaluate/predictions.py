"""Run a model on images or on a folder of files and get probabilities (and, for a labelled folder, its
metrics). Introduced in notebook 02.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

from radkit.evaluate.metrics import LABEL_NAMES, auc, clinical_metrics, format_metrics


def model_outputs(model, x, batch_size: int = 256) -> np.ndarray:
    """The model's raw outputs for model input ``x``, batch by batch.

    Calls the model directly rather than ``model.predict``, which builds a new
    TensorFlow function for every new model and warns about it when a notebook
    trains several.
    """
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def predict_probabilities(model, images, batch_size: int = 256) -> np.ndarray:
    """The model's probability of the finding for each picture (uint8 pictures or model input) (notebook 03)."""
    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 or images.ndim == 3 else images.astype(np.float32)
    output = model_outputs(model, x, batch_size)
    if output.ndim == 2 and output.shape[1] == 2:  # two softmax outputs: take the finding's
        return output[:, 1]
    if output.ndim != 2 or output.shape[1] != 1:
        raise RadkitError(f"The model gives {output.shape[1:]} numbers per picture; these metrics need one "
                          "probability (a yes/no model).", "Use a model with one sigmoid output, e.g. "
                          "radkit.models.small_cnn(n_outputs=1).")
    return output[:, 0]


class FolderPredictions(list):
    """The rows of ``predict_folder`` (a list of dicts), with ``metrics`` when the sub-folders gave the truth."""

    metrics: dict | None = None


def _truth_folder(parts: tuple) -> str | None:
    """The label sub-folder a file sits in (``label/x.png`` or ``test/label/x.png``), or None."""
    from radkit.data import SPLIT_FOLDERS

    if len(parts) >= 3 and parts[0].lower() in SPLIT_FOLDERS:
        return parts[1]
    return parts[0] if len(parts) >= 2 else None


def predict_folder(model, folder, size: int | None = None, threshold: float = 0.5,
                   label_names=None, show: bool = True, scope=None) -> FolderPredictions:
    """The model's answer for every picture in a folder of your own (PNG, JPEG, DICOM, ...) (notebook 03).

    Returns one row per file: ``file``, ``probability``, ``prediction``, ``truth`` and a
    ``note`` (why a file was skipped: colour, unreadable, not a picture). Sub-folders are included.
    When the pictures sit in label sub-folders (``normal/``, ``pneumonia/``, or ``test/normal/`` ...),
    those are the truth: the result ends with sensitivity, specificity, PPV, NPV and AUC (also in
    ``.metrics``). ``label_names`` default to the sub-folder names (sorted, as ``load_image_folder``
    numbers them), else the course's ("normal", "pneumonia"). ``size`` defaults to the model's input size.
    With ``scope`` (``radkit.report.learn_scope``, notebook 10) each file is first checked against what the model
    learned: for a file outside it (a CT, a limb film, a photograph...) the answer is withheld and the note says why.
    """
    from radkit import data

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RadkitError(f"There is no folder at {folder}.", "Check the path (copy it from your file manager).")
    size = size or model.input_shape[1]
    supported = data.IMAGE_SUFFIXES | data.DICOM_SUFFIXES
    rows, pictures = FolderPredictions(), []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(folder)
        row = {"file": str(relative), "probability": float("nan"), "prediction": "-",
               "truth": _truth_folder(relative.parts), "note": ""}
        rows.append(row)
        if path.suffix.lower() not in supported and not data.is_dicom(path):
            row["note"] = (f"skipped: {path.suffix or 'no extension'} is not a PNG, JPEG, DICOM, GIF, WebP, "
                           "TIFF or BMP file")
            continue
        try:
            if scope is not None:
                check = scope.check(model, path)
                if not check["in_scope"]:
                    row["prediction"] = "withheld"
                    row["note"] = "withheld: " + "; ".join(check["reasons"])
                    continue
            pictures.append(data.to_model_input(data.read_image(path), size))
            row["probability"] = None
        except RadkitError as error:
            row["note"] = f"skipped: {error.problem}"
    if not pictures and not any(row["prediction"] == "withheld" for row in rows):
        raise RadkitError(f"{folder} holds no pictures RadKit can read.",
                          "Put PNG, JPEG or DICOM files in it (grey, not colour).")
    read = [row for row in rows if row["probability"] is None]
    folders = sorted({row["truth"] for row in read if row["truth"] is not None})
    has_truth = len(folders) >= 2 and all(row["truth"] is not None for row in read)
    if label_names is None:
        label_names = folders if has_truth and len(folders) == 2 else LABEL_NAMES
    label_names = list(label_names)
    for row, p in zip(read, predict_probabilities(model, np.concatenate(pictures)) if pictures else []):
        row["probability"] = float(p)
        row["prediction"] = label_names[int(p >= threshold)]
    if not has_truth:
        for row in rows:
            row["truth"] = None
    if show:
        print(format_table(rows, limit=20 if has_truth else None))
    if has_truth:
        rows.metrics = _folder_metrics(read, label_names, threshold, show)
    return rows


def _folder_metrics(read: list[dict], label_names: list, threshold: float, show: bool) -> dict | None:
    """Sensitivity, specificity, PPV, NPV and AUC with the sub-folder names as the truth."""
    lower = [str(name).lower() for name in label_names]
    unknown = sorted({row["truth"] for row in read if row["truth"].lower() not in lower})
    if unknown or len(label_names) != 2:
        if show:
            print(f"Note: no clinical metrics: the sub-folders ({', '.join(sorted({r['truth'] for r in read}))}) "
                  f"are not the model's two labels ({', '.join(map(str, label_names))}).")
        return None
    truth = np.array([lower.index(row["truth"].lower()) for row in read])
    probabilities = np.array([row["probability"] for row in read])
    metrics = clinical_metrics(truth, probabilities, threshold)
    metrics["auc"] = auc(truth, probabilities) if len(set(truth)) == 2 else float("nan")
    if show:
        print(f"\nThe sub-folder names as the truth ({len(read)} pictures; {label_names[1]} = positive):")
        print(format_metrics(metrics, label_names))
        print("AUC         " + ("  n/a  (needs pictures of both labels)" if np.isnan(metrics["auc"])
                                else f"{metrics['auc']:.3f}"))
    return metrics


def format_table(rows: list[dict], limit: int | None = None) -> str:
    """Rows of ``predict_folder`` as a text table (probabilities as percentages); at most ``limit`` rows."""
    shown = rows if limit is None or len(rows) <= limit else rows[:limit]
    truth = any(r.get("truth") for r in rows)
    width = max(len("file"), *(len(r["file"]) for r in shown))
    lines = [f"{'file':{width}s}  probability  prediction  " + ("truth       " if truth else "") + "note"]
    for r in shown:
        p = "     -" if np.isnan(r["probability"]) else f"{100 * r['probability']:5.1f} %"
        t = f"{r.get('truth') or '-':10s}  " if truth else ""
        lines.append(f"{r['file']:{width}s}  {p:>11s}  {r['prediction']:10s}  {t}{r['note']}".rstrip())
    if len(shown) < len(rows):
        lines.append(f"... and {len(rows) - len(shown)} more rows (all of them are in the list this returns)")
    return "\n".join(lines)


def predict_outputs(model, images, batch_size: int = 256) -> np.ndarray:
    """All of a model's outputs for each picture, e.g. one probability per finding (notebook 06)."""
    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images) if images.dtype == np.uint8 or images.ndim == 3 else images.astype(np.float32)
    return model_outputs(model, x, batch_size)
