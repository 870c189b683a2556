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
