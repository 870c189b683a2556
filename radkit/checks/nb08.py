"""Exercises for notebook 08_segmentation."""

from __future__ import annotations

import numpy as np

from radkit import masks, volumes
from radkit.exercises import Exercise, close_to
from radkit.exercises.feedback import short

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def tiny_masks() -> tuple[np.ndarray, np.ndarray]:
    """The 4 x 5 true outline and model outline of exercise 2 (1 = structure)."""
    truth = np.array([[0, 0, 0, 0, 0],
                      [0, 1, 1, 0, 0],
                      [0, 1, 1, 0, 0],
                      [0, 0, 0, 0, 0]], np.uint8)
    pred = np.array([[0, 0, 0, 0, 0],
                     [0, 1, 1, 1, 0],
                     [0, 0, 1, 1, 0],
                     [0, 0, 0, 1, 0]], np.uint8)
    return truth, pred


def _dice_by_hand(value):
    truth, pred = tiny_masks()
    overlap, sizes = int((truth & pred).sum()), int(truth.sum() + pred.sum())
    if np.isclose(value, overlap / (sizes - overlap)):
        return "that is the IoU (overlap / union). Dice doubles the overlap and divides by the two sizes added."
    if np.isclose(value, overlap / sizes):
        return "close: Dice counts the overlap twice (once for each outline), 2 x overlap / (size + size)."
    return close_to(value, 2 * overlap / sizes, 1e-3, "dice_by_hand")


def _volume(value):
    expected = 21_000 * 1.25 * 1.25 * 2.5 / 1000
    if np.isclose(value, expected * 1000):
        return "that is in mm³; 1 mL is 1,000 mm³."
    if np.isclose(value, 21_000 * 1.25 * 1.25 / 1000):
        return "each voxel is also 2.5 mm thick: multiply by all three sides."
    return close_to(value, expected, 0.01, "atrium_ml")


def _mean_dice(probabilities, truths, threshold) -> float:
    scores = []
    for p, truth in zip(probabilities, truths):
        pred = volumes.to_labels(p, threshold)
        scores += [masks.dice(truth, pred, label) for label in range(1, p.shape[-1] if p.shape[-1] > 1 else 2)]
    return float(np.mean(scores))


def _threshold(best_threshold, val_probs, val_truths):
    scores = {t: _mean_dice(val_probs, val_truths, t) for t in THRESHOLDS}
    best = max(scores, key=scores.get)
    if best_threshold not in scores and not any(np.isclose(best_threshold, t) for t in scores):
        return f"choose one of the candidates {THRESHOLDS}."
    chosen = min(scores, key=lambda t: abs(t - best_threshold))
    if np.isclose(scores[chosen], scores[best], atol=1e-9):
        return None
    return (f"at {chosen} the mean validation Dice is {scores[chosen]:.3f}; another candidate does better. "
            "Pick the threshold with the HIGHEST validation Dice.")


def _failure(worst_scan, failure, truths, preds, ids, spacings):
    table = masks.scores_table(truths, preds, spacings, [str(i) for i in range(1 + max(int(t.max()) for t in truths))],
                               ids)
    per_scan = {scan: table["dice"][table["scan"] == scan].mean() for scan in dict.fromkeys(table["scan"])}
    worst = min(per_scan, key=per_scan.get)
    if worst_scan != worst:
        if worst_scan == max(per_scan, key=per_scan.get):
            return "that is the BEST scan. Look for the lowest mean Dice."
        return f"you gave {short(worst_scan)}, which is not the scan with the lowest mean Dice (over its structures)."
    rows = table["scan"] == worst
    expected = "too small" if table["model_ml"][rows].sum() < table["true_ml"][rows].sum() else "too large"
    if failure not in ("too small", "too large"):
        return "failure should be 'too small' or 'too large'."
    if failure != expected:
        return "right scan; now compare the model's volume with the true volume for that scan."
    return None


q2 = Exercise(
    "q2", _dice_by_hand,
    hint="Count the 1s in the truth, the 1s in the model's outline, and the pixels that are 1 in both. "
         "Dice = 2 x overlap / (truth + model).",
    solution="dice_by_hand = 2 * 3 / (4 + 6)",
    wrong=("dice_by_hand = 3 / (4 + 6 - 3)", "dice_by_hand = 3 / (4 + 6)"),
)
q1 = Exercise(
    "q1", _volume,
    hint="One voxel is 1.25 x 1.25 x 2.5 mm³. Multiply by the number of voxels, then divide by 1,000 for mL.",
    solution="atrium_ml = 21_000 * 1.25 * 1.25 * 2.5 / 1000",
    wrong=("atrium_ml = 21_000 * 1.25 * 1.25 * 2.5", "atrium_ml = 21_000 * 1.25 * 1.25 / 1000"),
)
q3 = Exercise(
    "q3", _threshold,
    hint="Build {threshold: mean_dice(val_probs, val.labels, threshold)} for every candidate, then take the "
         "threshold with the largest value: max(scores, key=scores.get).",
    solution="val_scores = {t: mean_dice(val_probs, val.labels, t) for t in candidates}\n"
             "best_threshold = max(val_scores, key=val_scores.get)",
    wrong=("val_scores = {t: mean_dice(val_probs, val.labels, t) for t in candidates}\n"
           "best_threshold = min(val_scores, key=val_scores.get)",),
)
q4 = Exercise(
    "q4", _failure,
    hint="per_scan_dice maps each test scan to its mean Dice: min(per_scan_dice, key=per_scan_dice.get). Then "
         "compare that scan's model volume with its true volume.",
    solution="worst_scan = min(per_scan_dice, key=per_scan_dice.get)\n"
             "failure = 'too small' if per_scan_ml[worst_scan][0] < per_scan_ml[worst_scan][1] else 'too large'",
    wrong=("worst_scan = max(per_scan_dice, key=per_scan_dice.get)\n"
           "failure = 'too small' if per_scan_ml[worst_scan][0] < per_scan_ml[worst_scan][1] else 'too large'",
           "worst_scan = min(per_scan_dice, key=per_scan_dice.get)\n"
           "failure = 'too large' if per_scan_ml[worst_scan][0] < per_scan_ml[worst_scan][1] else 'too small'"),
)
