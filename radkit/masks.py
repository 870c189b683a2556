"""Judging an outline: Dice, IoU, volume in millilitres, agreement, and drawing outlines (notebook 08).

A *mask* (or label volume) is an array of whole numbers the size of the image:
0 is background, 1, 2, ... are structures (for the hippocampus: 1 anterior,
2 posterior). Everything here takes plain NumPy arrays.

Edge cases, stated once (MONAI's most repeated complaint is a silent NaN):

- the structure is absent from **both** truth and prediction: Dice = IoU = 1.0
  (nothing to find, nothing drawn: full agreement);
- absent from the truth but drawn by the model (a false alarm), or present but
  missed entirely: Dice = IoU = 0.0.
"""

from __future__ import annotations

import numpy as np

from radkit.errors import RadkitError

# Outline colours (RGB 0..1): truth green, model's outline orange/magenta by structure.
TRUTH_COLOUR = (0.2, 0.9, 0.2)
PRED_COLOURS = ((1.0, 0.55, 0.0), (1.0, 0.2, 0.8), (0.2, 0.6, 1.0), (1.0, 1.0, 0.2))


def _pair(truth, pred) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise RadkitError(f"The true mask has shape {truth.shape} but the predicted one {pred.shape}.",
                          "Compare a prediction with the truth of the same scan (same size, same order of slices).")
    return truth, pred


def dice(truth, pred, label: int = 1) -> float:
    """Dice = 2 x overlap / (size of truth + size of prediction), for one structure ``label`` (notebook 08).

    1 is a perfect outline, 0 no overlap at all. Absent from both: 1.0; see the module's edge cases.
    """
    truth, pred = _pair(truth, pred)
    t, p = truth == label, pred == label
    total = int(t.sum() + p.sum())
    return 1.0 if total == 0 else float(2 * np.logical_and(t, p).sum() / total)


def iou(truth, pred, label: int = 1) -> float:
    """IoU (Jaccard) = overlap / union, for one structure ``label`` (notebook 08). Always <= Dice."""
    truth, pred = _pair(truth, pred)
    t, p = truth == label, pred == label
    union = int(np.logical_or(t, p).sum())
    return 1.0 if union == 0 else float(np.logical_and(t, p).sum() / union)


def volume_ml(mask, spacing, label: int | None = None) -> float:
    """Volume of a structure in millilitres: number of voxels x voxel volume (mm³) / 1000 (notebook 08).

    ``spacing`` is the voxel size in mm along each axis, e.g. (1, 1, 1). ``label=None``
    counts every non-zero voxel (all structures together).
    """
    mask = np.asarray(mask)
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != mask.ndim:
        raise RadkitError(f"The mask has {mask.ndim} axes but the spacing {len(spacing)} numbers {spacing}.",
                          "Give one voxel size (mm) per axis, in the same order as the array's axes.")
    voxels = int((mask != 0).sum() if label is None else (mask == label).sum())
    return voxels * float(np.prod(spacing)) / 1000.0


def keep_largest(mask) -> np.ndarray:
    """Keep, for each structure, only its largest connected piece in 3-D; stray specks elsewhere go (notebook 08).

    A 2-D model judges each slice alone, so it sometimes draws a small blob on a slice far from
    the structure. One hippocampus is one connected piece, so a radiologist would ignore such
    specks: this does the same. Pieces touch through faces, edges or corners (26 neighbours in 3-D).
    """
    from scipy import ndimage

    mask = np.asarray(mask)
    out = np.zeros_like(mask)
    structure = np.ones((3,) * mask.ndim, bool)
    for value in np.unique(mask[mask != 0]):
        pieces, n = ndimage.label(mask == value, structure=structure)
        if n:
            largest = 1 + int(np.argmax(np.bincount(pieces.ravel())[1:]))
            out[pieces == largest] = value
    return out


def scores_table(truths, preds, spacings, label_names, ids=None) -> dict:
    """Dice, IoU, true and predicted volume (mL) per scan and structure, as columns of NumPy arrays (notebook 08).

    ``truths`` and ``preds`` are lists of label volumes (one per patient), ``label_names``
    includes the background at position 0. Every column has one entry per (scan, structure).
    """
    if not (len(truths) == len(preds) == len(spacings)):
        raise RadkitError(f"Got {len(truths)} true masks, {len(preds)} predictions and {len(spacings)} spacings.",
                          "Give one of each per scan, in the same order.")
    ids = list(ids) if ids is not None else [f"scan {i}" for i in range(len(truths))]
    rows = [(scan, name, dice(truth, pred, label), iou(truth, pred, label), volume_ml(truth, spacing, label),
             volume_ml(pred, spacing, label))
            for scan, truth, pred, spacing in zip(ids, truths, preds, spacings)
            for label, name in enumerate(label_names) if label > 0]
    names = ("scan", "structure", "dice", "iou", "true_ml", "model_ml")
    return {name: np.array([row[i] for row in rows]) for i, name in enumerate(names)}


def summarise(table: dict) -> None:
    """Print mean Dice, IoU and volumes per structure, and the worst scan for each (notebook 08)."""
    for structure in dict.fromkeys(table["structure"]):
        rows = table["structure"] == structure
        worst = np.argmin(np.where(rows, table["dice"], np.inf))
        print(f"{structure:>12}: Dice {table['dice'][rows].mean():.3f}  IoU {table['iou'][rows].mean():.3f}  "
              f"volume truth {table['true_ml'][rows].mean():.2f} mL, model {table['model_ml'][rows].mean():.2f} mL  "
              f"| worst: {table['scan'][worst]} (Dice {table['dice'][worst]:.2f})")


def agreement(measured, reference) -> dict:
    """Bland-Altman agreement of two measurements of the same patients (notebook 08).

    Returns the mean difference (measured - reference: the bias), its standard
    deviation, and the 95 % limits of agreement, bias ± 1.96 SD: for 95 % of
    patients, the two methods differ by an amount between these limits.
    """
    measured, reference = np.asarray(measured, float), np.asarray(reference, float)
    if measured.shape != reference.shape or measured.ndim != 1 or len(measured) < 2:
        raise RadkitError(f"Agreement needs two equally long lists of at least 2 measurements; got {measured.shape} "
                          f"and {reference.shape}.", "Give one measurement per patient from each method.")
    difference = measured - reference
    bias, sd = float(difference.mean()), float(difference.std(ddof=1))
    return {"n": len(difference), "mean_difference": bias, "sd": sd,
            "lower_limit": bias - 1.96 * sd, "upper_limit": bias + 1.96 * sd}


def plot_agreement(measured, reference, unit: str = "mL", title: str = "Volume: model against truth"):
    """Scatter (model against truth, with the line of identity) and Bland-Altman plot, side by side (notebook 08)."""
    import matplotlib.pyplot as plt

    stats = agreement(measured, reference)
    measured, reference = np.asarray(measured, float), np.asarray(reference, float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    low, high = min(measured.min(), reference.min()), max(measured.max(), reference.max())
    left.plot([low, high], [low, high], "k--", lw=1, label="perfect agreement")
    left.scatter(reference, measured, s=18, alpha=0.7)
    left.set(xlabel=f"truth ({unit})", ylabel=f"model ({unit})", title="model against truth")
    left.legend()
    mean = (measured + reference) / 2
    right.scatter(mean, measured - reference, s=18, alpha=0.7)
    for value, style, text in ((stats["mean_difference"], "-", "mean difference"),
                               (stats["lower_limit"], "--", "-1.96 SD"), (stats["upper_limit"], "--", "+1.96 SD")):
        right.axhline(value, color="crimson", linestyle=style, lw=1)
        right.annotate(f"{text}: {value:+.2f}", (mean.max(), value), ha="right", va="bottom", fontsize=8)
    right.axhline(0, color="grey", lw=0.5)
    right.set(xlabel=f"mean of model and truth ({unit})", ylabel=f"model - truth ({unit})",
              title="Bland-Altman agreement")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- drawing

def outline(mask) -> np.ndarray:
    """The border pixels of a 2-D mask (True where a structure pixel touches a non-structure pixel)."""
    mask = np.asarray(mask).astype(bool)
    if mask.ndim != 2:
        raise RadkitError(f"outline() draws one slice (2-D); got shape {mask.shape}.",
                          "Take one slice first, for example volume[10].")
    padded = np.pad(mask, 1)
    inside = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    return mask & ~inside


def overlay_rgb(image, truth=None, pred=None, alpha: float = 0.0) -> np.ndarray:
    """A colour picture (H, W, 3, floats 0..1) of a grey slice with outlines: truth green, model orange/pink.

    Each structure of ``pred`` gets its own colour; ``alpha`` > 0 also tints the inside of the model's outline.
    """
    image = np.asarray(image, dtype=float)
    low, high = np.percentile(image, (0.5, 99.5)) if image.size else (0, 1)
    grey = np.clip((image - low) / max(high - low, 1e-6), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    if pred is not None:
        pred = np.asarray(pred)
        for label in [v for v in np.unique(pred) if v != 0]:
            colour = np.array(PRED_COLOURS[(int(label) - 1) % len(PRED_COLOURS)])
            if alpha:
                rgb[pred == label] = (1 - alpha) * rgb[pred == label] + alpha * colour
            rgb[outline(pred == label)] = colour
    if truth is not None:
        truth = np.asarray(truth)
        for label in [v for v in np.unique(truth) if v != 0]:
            rgb[outline(truth == label)] = TRUTH_COLOUR
    return rgb


def colour_key(fig, structure_names=(), truth: bool = True) -> None:
    """A key under a figure's panels saying what each outline colour means (notebook 08)."""
    from matplotlib.patches import Patch

    handles = [Patch(color=TRUTH_COLOUR, label="truth")] if truth else []
    handles += [Patch(color=PRED_COLOURS[k % len(PRED_COLOURS)], label=f"model: {name}")
                for k, name in enumerate(structure_names or ("structure",))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)


def show_overlay(image, truth=None, pred=None, title: str | None = None, ax=None, alpha: float = 0.0):
    """Show one slice with the true outline (green) and the model's (orange/pink) (notebook 08)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.5))
    ax.imshow(overlay_rgb(image, truth, pred, alpha), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax
