"""A model card: what a model is for, what it was trained on, and how well it did, as measured (notebook 10).

Introduced in notebook 10_responsible_ai. A model card (Mitchell et al., 2019)
is the leaflet that comes with a model, like the package insert of a drug. RadKit
writes it from the numbers the learner measured, never from numbers typed in by
hand, and saves it as Markdown beside the model file:

- ``model_card`` - build the card (intended use, not for use, training data, metrics
  with intervals, a subgroup table, known shortcuts, date and software versions);
- ``ModelCard.save`` / ``save_beside`` - write it as ``<model>.model_card.md``;
- ``metric`` - one measured number with its interval, in the form the card takes.

The card shows itself when it is the last line of a notebook cell.
"""

from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

# The first line of every card RadKit writes: it lets RadKit tell its own cards from a file it must not overwrite.
MARKER = "<!-- model card written by radkit.report -->"
DIGITS = 3


def metric(name: str, dataset: str, ci: dict, n: int | None = None, model: str = "this model") -> dict:
    """One measured number for the card: ``metric("AUC", "NIH adults", bootstrap_ci(...), n=291)``.

    ``model`` names the model measured when it is not the card's own (a model it replaces, a check).
    """
    if not isinstance(ci, dict) or "estimate" not in ci:
        raise RadkitError(f"The value for {name!r} should be what radkit.evaluate.bootstrap_ci returns "
                          f"(a dict with estimate, low and high); got {type(ci).__name__}.",
                          "Pass the interval itself, e.g. metric('AUC', 'test set', evaluate.bootstrap_ci(y, p)).")
    return {"name": name, "dataset": dataset, "estimate": float(ci["estimate"]),
            "low": float(ci.get("low", np.nan)), "high": float(ci.get("high", np.nan)), "n": n, "model": model}


def measure(dataset: str, labels, probabilities, threshold: float = 0.5, n_boot: int = 1000,
            model: str = "this model", seed: int = 0) -> list[dict]:
    """AUC, sensitivity and specificity (at ``threshold``) of a yes/no model on one set of films, each with
    its bootstrap interval, as rows for the card (notebook 10)."""
    from radkit import evaluate

    labels, probabilities = evaluate.check_inputs(labels, probabilities, need_both=True, what="the AUC")
    rows = []
    for name, key in (("AUC", "auc"), (f"sensitivity at {threshold:.2f}", "sensitivity"),
                      (f"specificity at {threshold:.2f}", "specificity")):
        ci = evaluate.bootstrap_ci(labels, probabilities, metric=key, threshold=threshold, n_boot=n_boot, seed=seed)
        rows.append(metric(name, dataset, ci, n=len(labels), model=model))
    return rows


def format_metrics(rows: list[dict]) -> str:
    """Rows of ``measure`` / ``metric`` as plain text lines: model, data, metric, estimate (interval)."""
    return "\n".join(f"{r['model']:>14s} | {r['dataset']} | {r['name']}: {_interval(r)}"
                     + ("" if r.get("n") is None else f"  ({r['n']} films)") for r in rows)


def _number(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{DIGITS}f}"


def _interval(row: dict) -> str:
    if not np.isfinite(row.get("estimate", np.nan)):
        return "n/a"
    if not np.isfinite(row.get("low", np.nan)):
        return _number(row["estimate"])
    return f"{_number(row['estimate'])} ({_number(row['low'])} to {_number(row['high'])})"


def versions() -> dict:
    """The software that made and measured the model: Python, RadKit, NumPy, and TensorFlow/Keras if loaded."""
    import sys

    import radkit

    found = {"python": platform.python_version(), "radkit": radkit.__version__, "numpy": np.__version__}
    for name in ("tensorflow", "keras", "sklearn"):
        module = sys.modules.get(name)
        if module is not None:
            found["scikit-learn" if name == "sklearn" else name] = getattr(module, "__version__", "?")
    return found


@dataclass
class ModelCard:
    """A model card as Markdown text (``.markdown``), with the metrics it was built from (``.metrics``)."""

    markdown: str
    metrics: list

    def __repr__(self) -> str:
        title = self.markdown.splitlines()[1].lstrip("# ") if self.markdown.count("\n") > 1 else "model card"
        return f"{title} ({len(self.metrics)} measured numbers; shown as Markdown in a notebook)"

    def _repr_markdown_(self) -> str:
        return self.markdown.replace(MARKER + "\n", "")

    def __str__(self) -> str:
        return self.markdown

    def missing(self, metrics) -> list:
        """The measured numbers (``metric`` rows) that do not appear in the card: should be none."""
        return [m for m in metrics if _interval(m) not in self.markdown]

    def save(self, path) -> Path:
        """Write the card to ``path`` (a ``.md`` file). Refuses to overwrite a file RadKit did not write."""
        path = Path(path).expanduser()
        if path.suffix != ".md":
            raise RadkitError(f"{path.name} does not end in .md.", "Use a name ending in .model_card.md.")
        if path.exists():
            with open(path, encoding="utf-8", errors="replace") as handle:
                first = handle.readline().strip()
            if first != MARKER:
                raise RadkitError(f"{path.name} already exists and was not written by RadKit, so it is left alone.",
                                  "Choose another name, or move that file away first.")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(self.markdown, encoding="utf-8")
        partial.replace(path)  # all or nothing: a half-written card never stays behind
        return path

    def save_beside(self, model_path) -> Path:
        """Write the card next to a saved model: ``models/x.keras`` -> ``models/x.model_card.md``."""
        model_path = Path(model_path).expanduser()
        return self.save(model_path.with_name(model_path.stem + ".model_card.md"))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |"
                                                                             for r in rows]


def model_card(name: str, intended_use: str, not_for_use, training_data: str, metrics: list,
               subgroups: list | None = None, shortcuts=(), threshold: float | None = None, notes=(),
               date: str | None = None) -> ModelCard:
    """Build a model card from what was measured (notebook 10).

    - ``intended_use``: one or two sentences; ``not_for_use``: a list of uses it must not have;
    - ``training_data``: what it learned from (e.g. a dataset card's title, licence and notes);
    - ``metrics``: rows made by ``metric(...)``, each with its interval;
    - ``subgroups``: rows of ``radkit.evaluate.subgroups`` (each metric with its interval);
    - ``shortcuts``: known shortcuts, in plain words; ``notes``: anything else a user must know.
    Date and software versions are added by RadKit.
    """
    if not metrics:
        raise RadkitError("A model card needs at least one measured metric.",
                          "Measure the model first (e.g. evaluate.bootstrap_ci) and pass it as metric(...).")
    not_for_use = [not_for_use] if isinstance(not_for_use, str) else list(not_for_use)
    date = date or datetime.date.today().isoformat()
    lines = [MARKER, f"# Model card: {name}", "",
             "*Written by RadKit from the numbers measured in the notebook; intervals are 95 % bootstrap intervals.*",
             "", "## Intended use", "", intended_use, "", "## Not for use", ""]
    lines += [f"- {item}" for item in not_for_use] + ["", "## Training data", "", training_data, ""]
    if threshold is not None:
        lines += [f"Operating threshold: {threshold:.{DIGITS}f} (a film at or above it is called positive).", ""]
    lines += ["## Performance, as measured", ""]
    lines += _table(["model", "data", "metric", "estimate (95 % interval)", "films"],
                    [[m.get("model", "this model"), m["dataset"], m["name"], _interval(m),
                      "" if m.get("n") is None else str(m["n"])] for m in metrics])
    if subgroups:
        names = [k for k in subgroups[0] if isinstance(subgroups[0][k], dict)]
        lines += ["", "## Subgroups", "", "Small groups give wide intervals: a difference is only real when the "
                  "intervals barely overlap.", ""]
        lines += _table(["group", "value", "films", "positives"] + names,
                        [[str(r["group"]), str(r["value"]), str(r["n"]), str(r["positives"])]
                         + [_interval(r[k]) for k in names] for r in subgroups])
    lines += ["", "## Known shortcuts and risks", ""] + ([f"- {s}" for s in shortcuts] or ["- none measured"])
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Made with", "", f"- date: {date}"]
    lines += [f"- {k}: {v}" for k, v in versions().items()]
    card = ModelCard("\n".join(lines) + "\n", list(metrics))
    missing = card.missing(metrics)
    if missing:  # cannot happen unless the table code above is broken: the card must carry every number
        raise RadkitError(f"The card lost {len(missing)} metric(s), e.g. {missing[0]['name']}.", "Report this bug.")
    return card


def card_summary(markdown: str) -> dict:
    """The parts of a card the browser app shows under "About this model" (notebook 09): name, intended use,
    not for use, and the measured metrics with their intervals, read back from the card's Markdown."""
    sections, current = {}, None
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if "Intended use" not in sections or "Performance, as measured" not in sections:
        raise RadkitError("This Markdown is not a model card written by radkit.report (it has no 'Intended use' "
                          "or 'Performance, as measured' section).", "Make the card with radkit.report.model_card.")
    title = next((line[2:].replace("Model card:", "").strip() for line in markdown.splitlines()
                  if line.startswith("# ")), "")
    metrics = []
    for line in sections["Performance, as measured"]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("model", "") and not set(cells[0]) <= set("-"):
            model, data, name, estimate, films = cells
            metrics.append({"model": model, "data": data, "metric": name, "estimate": estimate, "films": films})
    date = next((line.split(":", 1)[1].strip() for line in sections.get("Made with", [])
                 if line.startswith("- date:")), "")
    return {"name": title,
            "intended_use": " ".join(line.strip() for line in sections["Intended use"] if line.strip()),
            "not_for_use": [line[2:].strip() for line in sections.get("Not for use", []) if line.startswith("- ")],
            # the headline numbers are the card's own model's; rows about other models stay in the full card
            "metrics": [m for m in metrics if m["model"] == "this model"] or metrics,
            "date": date}


# ---------------------------------------------------------------- the model's scope (notebooks 09 and 10)

# What the course's pneumonia classifier was made for: what a DICOM header must say, in the header's own words.
CHEST_FILMS = {"modalities": ("CR", "DX"), "body_parts": ("CHEST",), "views": ("PA", "AP"),
               "image_kind": "grey frontal chest radiograph (X-ray film)"}

MODALITY_NAMES = {"CT": "a CT", "MR": "an MR", "US": "an ultrasound", "MG": "a mammogram", "NM": "a nuclear medicine",
                  "PT": "a PET", "XA": "an angiography", "RF": "a fluoroscopy", "OT": "an 'other'", "SC": "a screen capture",
                  "RTDOSE": "a radiotherapy dose", "SEG": "a segmentation", "SR": "a report", "CR": "a CR",
                  "DX": "a DX", "IO": "an intra-oral", "PX": "a panoramic dental", "OP": "an eye photography",
                  "XC": "a photograph", "ES": "an endoscopy", "SM": "a microscopy"}

SCOPE_MESSAGE = "This does not look like the chest films this model learned from."


@dataclass
class Scope:
    """What a model was made for, and how to tell when a picture is outside it (notebooks 09 and 10).

    Made by ``learn_scope``. Three checks on every picture, one on every DICOM header:

    - header: Modality, Body Part Examined and View Position (where the file gives them) must be what the model
      learned from (``modalities``, ``body_parts``, ``views``);
    - colour: chest films are grey; a picture whose colours differ by more than ``colour_limit`` (0-255 scale,
      on average over its pixels) is refused;
    - contrast: a picture with less contrast (standard deviation of the model's input) than all but
      ``contrast_percentile`` % of the validation films is refused (blank and washed-out pictures);
    - distance: how far the model's own features of the picture lie from the training films' (a Mahalanobis
      distance, with a shrunk covariance); beyond the ``percentile``-th percentile of the validation films'
      distances, the picture is refused.
    """

    modalities: tuple
    body_parts: tuple
    views: tuple
    image_kind: str
    layers: list
    mean: np.ndarray        # float32 (features,): the training films' average features
    whitening: np.ndarray   # float32 (features, features): distance = length of whitening @ (features - mean)
    distance_limit: float
    contrast_limit: float
    colour_limit: float
    percentile: float
    contrast_percentile: float
    input: dict
    films: dict

    def __repr__(self) -> str:
        return (f"Scope: {self.image_kind} ({'/'.join(self.modalities)}, {'/'.join(self.body_parts)}, views "
                f"{'/'.join(self.views)}); feature distance limit {self.distance_limit:.1f} (the "
                f"{self.percentile:g}th percentile of {self.films['validation']} validation films), contrast at "
                f"least {self.contrast_limit:.3f}, colour at most {self.colour_limit:g}")

    def describe(self) -> dict:
        """What the model card says about the scope: the plain words and the limits, as a dictionary."""
        return {"image_kind": self.image_kind, "modalities": list(self.modalities), "body_parts": list(self.body_parts),
                "views": list(self.views), "distance_limit": round(float(self.distance_limit), 3),
                "percentile": self.percentile, "contrast_limit": round(float(self.contrast_limit), 4),
                "contrast_percentile": self.contrast_percentile, "colour_limit": self.colour_limit,
                "layers": list(self.layers), "films": dict(self.films)}

    def header_problems(self, path) -> list[str]:
        """What a DICOM file's header says that is outside the scope, in plain words (empty when it fits)."""
        import pydicom

        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception as error:  # noqa: BLE001 - an unreadable header is reported by the reader later
            return [f"its header could not be read ({type(error).__name__})"]
        return header_problems({"Modality": ds.get("Modality", ""), "BodyPartExamined": ds.get("BodyPartExamined", ""),
                                "ViewPosition": ds.get("ViewPosition", "")}, self)

    def features(self, model, x) -> np.ndarray:
        """The model's own features of model input ``x`` (N, H, W, C): each scope layer's maps averaged over space."""
        return scope_features(model, x, self.layers)

    def distances(self, model, x) -> np.ndarray:
        """How far each picture of model input ``x`` lies from the training films, in the model's features."""
        return _distance(self.features(model, x), self.mean, self.whitening)

    def check_input(self, model, x, colour=None) -> list[dict]:
        """Check model input ``x`` (N, H, W, C); ``colour`` is each picture's colourfulness (0 when grey). One dict
        per picture: ``in_scope``, ``reasons`` (plain words), ``distance``, ``contrast`` and ``colour``."""
        x = np.asarray(x, dtype=np.float32)
        distance = self.distances(model, x)
        contrast = input_contrast(x)
        colour = np.zeros(len(x)) if colour is None else np.broadcast_to(np.asarray(colour, float), (len(x),))
        out = []
        for d, c, k in zip(distance, contrast, colour):
            reasons = []
            if k > self.colour_limit:
                reasons.append(f"it is a colour picture (colourfulness {k:.0f}; chest films are grey, at most "
                               f"{self.colour_limit:g})")
            if c < self.contrast_limit:
                reasons.append(f"it has almost no contrast ({c:.3f}; the chest films it learned from have at least "
                               f"{self.contrast_limit:.3f})")
            if d > self.distance_limit:
                reasons.append(f"its features are far from the training films' (distance {d:.1f}; limit "
                               f"{self.distance_limit:.1f})")
            out.append({"in_scope": not reasons, "reasons": reasons, "distance": float(d), "contrast": float(c),
                        "colour": float(k)})
        return out

    def check(self, model, image) -> dict:
        """Is this picture (a file path, or pixels 0-255) within what the model learned? (notebook 10)

        A DICOM file's header is checked first (a CT, an MR or a limb film is refused without running the
        model); then the picture is prepared exactly as the web page prepares it, and its colour, contrast and
        feature distance are checked. Returns ``in_scope``, ``reasons`` (plain words), and the three measures.

        >>> scope.check(model, "my_film.dcm")["in_scope"]
        """
        import os

        from radkit.data import decode_image, is_dicom
        from radkit.deploy.prepare import preprocess_pixels

        if isinstance(image, (str, os.PathLike)):
            if is_dicom(Path(image)):
                problems = self.header_problems(image)
                if problems:
                    return {"in_scope": False, "reasons": problems, "distance": float("nan"),
                            "contrast": float("nan"), "colour": float("nan"), "header": True}
            image = decode_image(image)
        pixels = np.asarray(image)
        result = self.check_input(model, preprocess_pixels(pixels, self.input), colour=colourfulness(pixels))[0]
        result["header"] = False
        return result

    def save(self, path) -> Path:
        """Save the scope as a ``.scope.npz`` file (e.g. beside the model); never over a file RadKit did not write."""
        import json

        from radkit.files import write_atomically

        path = Path(path).expanduser()
        if not path.name.endswith(".scope.npz"):
            raise RadkitError(f"{path.name} does not end in .scope.npz.", "Use a name ending in .scope.npz.")
        meta = {k: getattr(self, k) for k in ("modalities", "body_parts", "views", "image_kind", "layers",
                                               "distance_limit", "contrast_limit", "colour_limit", "percentile",
                                               "contrast_percentile", "input", "films")}

        def write(temporary):
            with open(temporary, "wb") as handle:
                np.savez(handle, mean=self.mean, whitening=self.whitening,
                         meta=np.array(json.dumps(meta, default=float)), marker=np.array(MARKER))

        return write_atomically(path, write, written_by_radkit=_is_scope_file)

    def save_beside(self, model_path) -> Path:
        """Write the scope next to a saved model: ``models/x.keras`` -> ``models/x.scope.npz``."""
        model_path = Path(model_path).expanduser()
        return self.save(model_path.with_name(model_path.stem + ".scope.npz"))


def _is_scope_file(path: Path) -> bool:
    """True for a file that Scope.save wrote (it carries RadKit's marker)."""
    with np.load(path, allow_pickle=False) as saved:
        return str(saved["marker"]) == MARKER


def load_scope(path) -> Scope:
    """Read a scope saved by ``Scope.save`` (notebook 10)."""
    import json

    path = Path(path).expanduser()
    if not path.is_file():
        raise RadkitError(f"There is no scope file at {path.name}.", "Save one first with scope.save(...).")
    with np.load(path, allow_pickle=False) as saved:
        meta = json.loads(str(saved["meta"]))
        return Scope(mean=saved["mean"], whitening=saved["whitening"],
                     **{k: tuple(v) if k in ("modalities", "body_parts", "views") else v for k, v in meta.items()})


def header_problems(header: dict, scope) -> list[str]:
    """What a DICOM header (Modality, BodyPartExamined, ViewPosition) says that is outside ``scope``, in plain
    words; empty when it fits. A tag the file leaves empty is not held against it."""
    modalities = getattr(scope, "modalities", None) or scope["modalities"]
    body_parts = getattr(scope, "body_parts", None) or scope["body_parts"]
    views = getattr(scope, "views", None) or scope["views"]
    problems = []
    modality = str(header.get("Modality") or "").strip().upper()
    if modality and modality not in modalities:
        problems.append(f"it is {MODALITY_NAMES.get(modality, 'a ' + modality)} image (Modality {modality}); this "
                        f"model learned from {' or '.join(modalities)} radiographs only")
    part = str(header.get("BodyPartExamined") or "").strip().upper()
    if part and part not in body_parts:
        problems.append(f"the file says the body part is {part}; this model learned from "
                        f"{' and '.join(p.lower() for p in body_parts)} films only")
    view = str(header.get("ViewPosition") or "").strip().upper()
    if view and view not in views:
        problems.append(f"the file says the view is {view}; this model learned from {' and '.join(views)} "
                        "(frontal) views only")
    return problems


def scope_layers(model) -> list[str]:
    """The layers whose feature maps the scope averages: every 4-D layer that feeds a pooling layer (for the
    course's small CNN, the end of each block), in the model's order."""
    pools = ("MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D")
    names = []
    for layer in model.layers:
        if type(layer).__name__ not in pools:
            continue
        source = layer.input._keras_history[0]
        if source.name not in names and len(source.output.shape) == 4:
            names.append(source.name)
    if not names:
        raise RadkitError(f"The model {model.name!r} has no pooling layer, so RadKit cannot tell which of its "
                          "features to use for its scope.", "Use a model built by radkit.models (e.g. small_cnn).")
    order = [layer.name for layer in model.layers]
    return sorted(names, key=order.index)


def scope_features(model, x, layers, batch_size: int = 256) -> np.ndarray:
    """Each of ``layers``' feature maps averaged over the picture, side by side: (N, features) float64."""
    import keras

    reader = keras.Model(model.inputs[0], [model.get_layer(name).output for name in layers])
    x = np.asarray(x, dtype=np.float32)
    parts = []
    for i in range(0, len(x), batch_size):
        outputs = reader(x[i:i + batch_size], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        parts.append(np.concatenate([np.asarray(o, dtype=np.float64).mean(axis=(1, 2)) for o in outputs], axis=1))
    return np.concatenate(parts)


def _distance(features, mean, whitening) -> np.ndarray:
    """Mahalanobis distance: the length of whitening @ (features - mean), computed in float64."""
    centred = np.asarray(features, np.float64) - np.asarray(mean, np.float64)
    return np.linalg.norm(centred @ np.asarray(whitening, np.float64).T, axis=1)


def input_contrast(x) -> np.ndarray:
    """The contrast of each picture of model input ``x``: the standard deviation of its values."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1).std(axis=1)


def colourfulness(pixels) -> float:
    """How colourful a picture is: the average, over its pixels, of the largest minus the smallest of red, green
    and blue (0-255 scale; 0 for a grey picture). Chest films are grey."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2 or pixels.shape[-1] == 1:
        return 0.0
    rgb = pixels[..., :3].astype(np.float64)
    return float((rgb.max(axis=-1) - rgb.min(axis=-1)).mean())


def learn_scope(model, train_images, val_images, percentile: float = 99.0, contrast_percentile: float = 0.5,
                colour_limit: float = 10.0, modalities=CHEST_FILMS["modalities"], body_parts=CHEST_FILMS["body_parts"],
                views=CHEST_FILMS["views"], image_kind: str = CHEST_FILMS["image_kind"]) -> Scope:
    """Learn what a classifier was made for from its own training and validation films (notebook 10).

    The training films give the average and the spread (a shrunk covariance, Ledoit-Wolf, as scikit-learn
    computes it) of the model's own features; the validation films, which the model did not learn from, set
    the limits: a picture farther than ``percentile`` % of them, or with less contrast than all but
    ``contrast_percentile`` % of them, is out of scope. The header words (``modalities``, ...) are what the
    training films were; for the course's classifier, frontal chest radiographs.

    >>> scope = report.learn_scope(model, data.train[0], data.val[0])
    """
    from sklearn.covariance import LedoitWolf

    from radkit.data import to_model_input

    def model_input(images):
        images = np.asarray(images)
        return to_model_input(images) if images.dtype == np.uint8 or images.ndim == 3 else images.astype(np.float32)

    train_x, val_x = model_input(train_images), model_input(val_images)
    if len(train_x) < 20 or len(val_x) < 20:
        raise RadkitError(f"learn_scope needs at least 20 training and 20 validation films; got {len(train_x)} "
                          f"and {len(val_x)}.", "Pass the whole training and validation sets.")
    height, width, channels = (int(d) for d in model.inputs[0].shape[1:])
    if train_x.shape[1:] != (height, width, channels):
        raise RadkitError(f"The films are {train_x.shape[1:3]} pixels but the model takes {(height, width)}.",
                          "Pass the films the model was trained on, at its size.")
    layers = scope_layers(model)
    covariance = LedoitWolf().fit(scope_features(model, train_x, layers))
    precision = np.asarray(covariance.precision_, np.float64)
    # A whitening matrix W with W.T @ W = precision: the distance is then the length of W @ (f - mean).
    whitening = np.linalg.cholesky((precision + precision.T) / 2).T.astype(np.float32)
    mean = covariance.location_.astype(np.float32)
    val_distance = _distance(scope_features(model, val_x, layers), mean, whitening)
    return Scope(modalities=tuple(modalities), body_parts=tuple(body_parts), views=tuple(views), image_kind=image_kind,
                 layers=layers, mean=mean, whitening=whitening,
                 distance_limit=float(np.percentile(val_distance, percentile)),
                 contrast_limit=float(np.percentile(input_contrast(val_x), contrast_percentile)),
                 colour_limit=float(colour_limit), percentile=float(percentile),
                 contrast_percentile=float(contrast_percentile),
                 input={"height": height, "width": width, "channels": channels, "pixel_divisor": 255.0,
                        "pixel_offset": 0.0},
                 films={"training": int(len(train_x)), "validation": int(len(val_x)),
                        "shrinkage": round(float(covariance.shrinkage_), 4)})
