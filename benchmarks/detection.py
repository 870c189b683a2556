"""How well do the course's detection recipes do on real data, on a CPU?

1. Heart boxes (NIH ChestX-ray14, 146 films boxed for Cardiomegaly, split by
   patient 60/20/20 %): radkit.models.box_regressor (small CNN, starting from
   the average training box) trained with radkit.train.fit (box loss, Keras'
   box-aware augmentation, no flips). Reports on the held-out patients: mean
   IoU, share of films with IoU > 0.5, the "average box" baseline, training time.
   Targets (issue 11): IoU > 0.5 on >= 95 % and mean IoU >= 0.80 within 5 minutes.
2. BCCD blood cells (its own test list, 72 smears): radkit.models.centre_detector.
   Reports AP at IoU 0.5 per class and mAP (pycocotools' COCOeval), white cells
   counted exactly per smear, mean relative red-cell count error, training time.
   Targets: mAP@0.5 >= 0.85, WBC exact on >= 95 %, RBC within 10 %, <= 10 minutes.

    RADKIT_LOCAL_DATA=../shared/data python benchmarks/detection.py
    RADKIT_LOCAL_DATA=../shared/data python benchmarks/detection.py --only heart --heart-epochs 60

Times are wall-clock on this computer; on a shared CPU they are longer than alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from radkit import boxes, models, set_seed, train  # noqa: E402


def heart(size: int, epochs: int, seed: int, figure=None) -> dict:
    data = boxes.load_heart_boxes(size, source="real")
    set_seed(seed)
    start = (data.train[1] / size).mean(axis=0)
    model = models.box_regressor((size, size, 1), start_box=start)
    began = time.perf_counter()
    train.fit(model, data.train, data.val, epochs=epochs, batch_size=16, patience=epochs, verbose=False, seed=seed)
    seconds = time.perf_counter() - began
    ious = boxes.iou(models.predict_boxes(model, data.test[0]), data.test[1])
    average = boxes.iou(np.tile(start * size, (len(data.test[1]), 1)), data.test[1])
    if figure is not None:
        figure["heart"] = (data.test[0], models.predict_boxes(model, data.test[0]), data.test[1], ious)
    return {"films (train/val/test)": f"{len(data.train[0])}/{len(data.val[0])}/{len(data.test[0])}",
            "mean IoU": round(float(ious.mean()), 3), "IoU > 0.5": round(float(np.mean(ious > 0.5)), 3),
            "average box: mean IoU": round(float(average.mean()), 3),
            "average box: IoU > 0.5": round(float(np.mean(average > 0.5)), 3),
            "training seconds": round(seconds), "weights": models.count_params(model)}


def cells(epochs: int, seed: int, figure=None) -> dict:
    data = boxes.load_blood_cells(source="real")
    set_seed(seed)
    model = models.centre_detector(data.train[0].shape[1:3] + (1,), n_classes=3)
    began = time.perf_counter()
    train.fit(model, (data.train[0], boxes.pad(data.train[1], data.labels["train"])),
              (data.val[0], boxes.pad(data.val[1], data.labels["val"])), epochs=epochs, batch_size=16,
              patience=epochs, augment={"flip": True}, learning_rate=3e-3, verbose=False, seed=seed)
    seconds = time.perf_counter() - began
    found = models.detect(model, data.test[0])
    # Counting thresholds per class, chosen on the validation smears (as notebook 07 does).
    threshold = boxes.choose_count_thresholds(models.detect(model, data.val[0]),
                                              boxes.count_objects(data.labels["val"], 3))
    result = boxes.evaluate_detections(list(zip(data.test[1], data.labels["test"])), found, data.class_names)
    counted = boxes.count_objects([f[1] for f in found], 3, [f[2] for f in found], threshold)
    truth = boxes.count_objects(data.labels["test"], 3)
    if figure is not None:
        figure["cells"] = (data.test[0][0], found[0], data.test[1][0], data.labels["test"][0], threshold)
    return {"smears (train/val/test)": f"{len(data.train[0])}/{len(data.val[0])}/{len(data.test[0])}",
            **{f"AP {k}": round(v, 3) for k, v in result["AP"].items()}, "mAP@0.5": round(result["mAP"], 3),
            "count thresholds (RBC, WBC, platelets)": [round(float(t), 2) for t in threshold],
            "WBC exact": round(float(np.mean(counted[:, 1] == truth[:, 1])), 3),
            "RBC mean relative count error": round(float(np.mean(np.abs(counted[:, 0] - truth[:, 0])
                                                                 / np.maximum(truth[:, 0], 1))), 3),
            "training seconds": round(seconds), "weights": models.count_params(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("heart", "cells"), default=None)
    parser.add_argument("--size", type=int, default=128, help="heart films are resized to this many pixels")
    parser.add_argument("--heart-epochs", type=int, default=40)
    parser.add_argument("--cell-epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--figure", default=None, help="save an overlay picture here (PNG), e.g. docs/detection_overlay.png")
    args = parser.parse_args()
    figure = {} if args.figure else None
    if args.only in (None, "heart"):
        print("Heart boxes (NIH, held-out patients):", heart(args.size, args.heart_epochs, args.seed, figure), flush=True)
    if args.only in (None, "cells"):
        print("BCCD test smears:", cells(args.cell_epochs, args.seed, figure), flush=True)
    if figure:
        save_figure(figure, Path(args.figure))


def save_figure(figure: dict, path: Path) -> None:
    """Held-out heart films (model red, radiologist white dashed) and one BCCD test smear."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    if "heart" in figure:
        images, predicted, truth, ious = figure["heart"]
        chosen = [int(np.argmax(ious)), int(np.argsort(ious)[len(ious) // 2]), int(np.argmin(ious))]
        panels += [("heart", i, label) for i, label in zip(chosen, ("best", "median", "worst"))]
    if "cells" in figure:
        panels.append(("cells", 0, ""))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4),
                             gridspec_kw={"width_ratios": [1] * (len(panels) - 1) + [1.33]} if "cells" in figure else None)
    axes = np.atleast_1d(axes)
    for ax, (kind, i, label) in zip(axes, panels):
        if kind == "heart":
            boxes.draw_boxes(images[i], boxes=predicted[i], truth=truth[i], ax=ax,
                             title=f"{label} held-out film: IoU {ious[i]:.2f}")
        else:
            image, (found, labels, scores), true_boxes, true_labels, threshold = figure["cells"]
            keep = scores >= np.asarray(threshold)[labels]
            boxes.draw_boxes(image, boxes=found[keep], labels=labels[keep], class_names=boxes.BLOOD_CLASSES,
                             truth=true_boxes, ax=ax, title="BCCD test smear: detector vs BCCD (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"Saved {path}")


if __name__ == "__main__":
    main()
