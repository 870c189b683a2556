"""Benchmark: hippocampus segmentation on held-out patients, U-Net against FCN-8 (notebook 08's recipe, given more time).

    python benchmarks/segmentation.py --data ../shared/data/msd_hippocampus/Task04_Hippocampus

Splits the Decathlon Task04 scans by patient (65 % training, 15 % validation, 20 % test,
seed 0), trains a 2-D U-Net and an FCN-8 on sagittal slices with ``radkit.train.fit``
(same data, same epochs, Dice + cross-entropy loss, augmentation that moves each mask with
its slice), chooses
the threshold on validation patients only, and reports per structure the mean Dice and
IoU over test patients (each patient scored in 3-D), and the agreement of hippocampal
volume (mL) with the truth (mean difference and 95 % limits of agreement). Training time
is given as wall time and as the CPU time of the process (``time.process_time``: all its
threads), which other jobs on the machine do not inflate. Writes the figure for the
README (``docs/segmentation_overlay.png``) unless ``--no-figure``. Two variants measured
against this recipe: ``--context 1`` (each slice with its two neighbours as channels,
2.5-D), and a row with only the largest connected piece of each structure kept
(``masks.keep_largest``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from radkit import config, masks, models, train, volumes  # noqa: E402

SIZE = (64, 64)


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def mean_dice(probabilities, truths, threshold: float) -> float:
    """Mean Dice over patients and structures, outlines drawn at ``threshold``."""
    return float(np.mean([masks.dice(t, volumes.to_labels(p, threshold), k)
                          for p, t in zip(probabilities, truths) for k in range(1, p.shape[-1])]))


def evaluate(model, test, threshold: float = 0.5, keep_largest: bool = False) -> dict:
    """Dice/IoU per structure over test patients and the volume agreement, for one trained model."""
    preds = [volumes.to_labels(p, threshold) for p in volumes.predict_probabilities(model, test)]
    if keep_largest:
        preds = [masks.keep_largest(p) for p in preds]
    table = masks.scores_table(test.labels, preds, test.spacings, test.label_names, test.ids)
    result = {"preds": preds, "structures": {}}
    for structure in test.label_names[1:]:
        rows = table["structure"] == structure
        result["structures"][structure] = {
            "dice": float(table["dice"][rows].mean()), "iou": float(table["iou"][rows].mean()),
            "true_ml": float(table["true_ml"][rows].mean()),
            "agreement": masks.agreement(table["model_ml"][rows], table["true_ml"][rows])}
    result["mean_dice"] = float(np.mean([s["dice"] for s in result["structures"].values()]))
    whole_model = [masks.volume_ml(p, s) for p, s in zip(preds, test.spacings)]
    whole_truth = [masks.volume_ml(t, s) for t, s in zip(test.labels, test.spacings)]
    result["whole"] = masks.agreement(whole_model, whole_truth)
    result["whole_truth_mean"] = float(np.mean(whole_truth))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the Task04_Hippocampus folder (dataset.json, imagesTr, labelsTr)")
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--context", type=int, default=0,
                        help="neighbouring slices on either side as extra channels (2.5-D); notebook 08 uses 0")
    parser.add_argument("--filters", type=int, default=8, help="U-Net and FCN-8 base filters")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--n", type=int, default=None, help="use only the first N scans (a quick check)")
    parser.add_argument("--no-figure", action="store_true")
    args = parser.parse_args()

    config.set_seed(0)
    data = volumes.load_msd(args.data, n=args.n, label_names=volumes.HIPPOCAMPUS_LABELS)
    train_set, val_set, test_set = volumes.split_by_patient(data, val=0.15, test=0.2, seed=0)
    x, y, _ = volumes.to_slices(train_set, SIZE, context=args.context)
    xv, yv, _ = volumes.to_slices(val_set, SIZE, context=args.context)
    channels = x.shape[-1]
    print(f"{len(data)} scans: {len(train_set)} training ({len(x)} slices), {len(val_set)} validation, "
          f"{len(test_set)} test patients; {os.cpu_count()} CPU cores (shared with other jobs: timings are upper bounds)")

    results = {}
    for name, build in (("U-Net", lambda: models.unet((*SIZE, channels), 3, args.filters, depth=3)),
                        ("FCN-8", lambda: models.fcn8((*SIZE, channels), 3, args.filters))):
        config.set_seed(0)
        model = build()
        cpu_start = time.process_time()  # CPU seconds of this process (all threads): robust to other jobs
        history = train.fit(model, (x, y), (xv, yv), epochs=args.epochs, batch_size=16,
                            learning_rate=args.learning_rate, patience=args.epochs, verbose=True)
        minutes, weights = history.seconds / 60, models.count_params(model)
        cpu_minutes = (time.process_time() - cpu_start) / 60
        print(f"{name}: training took {minutes:.1f} min wall, {cpu_minutes:.1f} min of CPU time "
              f"(load average of the machine now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        results[name] = evaluate(model, test_set)
        results[name].update(minutes=minutes, cpu_minutes=cpu_minutes, weights=weights, threshold=0.5)
        results[f"{name}, largest piece kept"] = evaluate(model, test_set, keep_largest=True)
        results[f"{name}, largest piece kept"].update(minutes=minutes, cpu_minutes=cpu_minutes, weights=weights,
                                                      threshold=0.5)
        # The threshold on P(not background), chosen on validation patients only (notebook 08, exercise 3).
        val_probs = volumes.predict_probabilities(model, val_set)
        best = max(THRESHOLDS, key=lambda t: mean_dice(val_probs, val_set.labels, t))
        if best != 0.5:
            results[f"{name}, threshold {best} (chosen on validation)"] = evaluate(model, test_set, best)
            results[f"{name}, threshold {best} (chosen on validation)"].update(
                minutes=minutes, cpu_minutes=cpu_minutes, weights=weights, threshold=best)

    print(f"\n| model | weights | training (min wall / CPU) | " + " | ".join(f"Dice {s}" for s in test_set.label_names[1:])
          + " | mean Dice | " + " | ".join(f"IoU {s}" for s in test_set.label_names[1:]) + " |")
    print("|---" * (4 + 2 * (len(test_set.label_names) - 1)) + "|")
    for name, r in results.items():
        s = r["structures"]
        print(f"| {name} | {r['weights']:,} | {r['minutes']:.1f} / {r['cpu_minutes']:.1f} | " + " | ".join(f"{v['dice']:.3f}" for v in s.values())
              + f" | **{r['mean_dice']:.3f}** | " + " | ".join(f"{v['iou']:.3f}" for v in s.values()) + " |")
    print("\nVolume agreement on test patients (model - truth, mL; Bland-Altman):")
    print("| model | structure | mean true volume | mean difference | 95 % limits of agreement |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        for structure, s in r["structures"].items():
            a = s["agreement"]
            print(f"| {name} | {structure} | {s['true_ml']:.2f} | {a['mean_difference']:+.3f} | {a['lower_limit']:+.3f} to "
                  f"{a['upper_limit']:+.3f} |")
        a = r["whole"]
        print(f"| {name} | whole hippocampus | {r['whole_truth_mean']:.2f} | {a['mean_difference']:+.3f} | "
              f"{a['lower_limit']:+.3f} to {a['upper_limit']:+.3f} |")

    if not args.no_figure:
        import matplotlib

        matplotlib.use("Agg")
        unet = results["U-Net"]
        scores = [np.mean([masks.dice(t, p, k) for k in (1, 2)]) for t, p in zip(test_set.labels, unet["preds"])]
        median = int(np.argsort(scores)[len(scores) // 2])  # a typical test patient, not the best
        fig = volumes.show_planes(test_set.images[median], test_set.labels[median], unet["preds"][median],
                                  test_set.spacings[median], test_set.orientation)
        fig.suptitle(f"Held-out patient {test_set.ids[median]} (median Dice {scores[median]:.2f}): "
                     "truth green, U-Net orange (anterior) / pink (posterior)", fontsize=10, y=1.04)
        out = Path(__file__).resolve().parent.parent / "docs" / "segmentation_overlay.png"
        fig.savefig(out, dpi=90, bbox_inches="tight")
        print(f"\nWrote docs/{out.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
