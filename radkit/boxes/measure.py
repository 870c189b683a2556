"""Pictures with their boxes, drawing, the cardiothoracic ratio, mAP with pycocotools and counts (notebook 07)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from radkit.errors import RadkitError
from radkit.boxes.formats import BoxTable, convert, picture_path

# ---------------------------------------------------------------- pictures with their boxes

def resize_with_boxes(image: np.ndarray, boxes, size) -> tuple[np.ndarray, np.ndarray]:
    """Resize one picture (grey or colour) to ``size`` (an int, or (height, width)) and scale its boxes with it."""
    from PIL import Image

    height, width = (size, size) if np.isscalar(size) else size
    h0, w0 = image.shape[:2]
    picture = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    scale = np.array([width / w0, height / h0, width / w0, height / h0], dtype=np.float32)
    return picture, np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * scale


def read_pictures(table: BoxTable, folder, size=None, colour: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """Read the pictures of a ``BoxTable`` as grey uint8 (N, H, W), resized to ``size`` with their boxes scaled.

    ``colour=True`` keeps them in colour, (N, H, W, 3) (a stained blood smear).
    Without ``size`` every picture must have the same size (a stack needs it).
    """
    from PIL import Image

    sizes = {tuple(s) for s in table.sizes}
    if size is None and len(sizes) > 1:
        shown = " and ".join(f"{h} x {w}" for h, w in sorted(sizes)[:2])
        raise RadkitError(f"The pictures have different sizes ({shown} pixels, height x width), so they cannot be "
                          "stacked as they are.",
                          "Give size=... (for example size=256): each picture is resized and its boxes are "
                          "scaled with it.")
    pictures, boxes = [], []
    for name, picture_boxes in zip(table.files, table.boxes):
        path = picture_path(folder, name)  # the same film as NIH's PNG or a JPEG re-encoding
        if not path.is_file():
            raise RadkitError(f"The picture {name} is not in {Path(folder).name}/.",
                              "Check that the boxes and the pictures belong together.")
        with Image.open(path) as picture:
            pixels = np.asarray(picture.convert("RGB" if colour else "L"))  # X-rays are grey already
        if size is not None:
            pixels, picture_boxes = resize_with_boxes(pixels, picture_boxes, size)
        pictures.append(pixels)
        boxes.append(np.asarray(picture_boxes, dtype=np.float32))
    return np.stack(pictures), boxes


def draw_boxes(image, boxes=None, labels=None, class_names=None, truth=None, scores=None, ax=None,
               title: str | None = None, colors=("tab:red", "tab:cyan", "gold", "tab:green")):
    """Show a picture with boxes: ``boxes`` (predicted or yours) in colour, ``truth`` dashed in white (notebook 07)."""
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(np.asarray(image).squeeze(), cmap="gray")
    if truth is not None:
        for box in np.asarray(truth, dtype=float).reshape(-1, 4):
            ax.add_patch(patches.Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                           edgecolor="white", linestyle="--", linewidth=1.5))
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        labels = np.zeros(len(boxes), int) if labels is None else np.asarray(labels, int)
        for k, (box, label) in enumerate(zip(boxes, labels)):
            color = colors[label % len(colors)]
            ax.add_patch(patches.Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                           edgecolor=color, linewidth=1.5))
            text = class_names[label] if class_names else ""
            if scores is not None:
                text += f" {scores[k]:.2f}"
            if text.strip():
                ax.text(box[0], box[1] - 2, text.strip(), color=color, fontsize=7)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


# ---------------------------------------------------------------- a closer look: cutting around a box

def crop_around(images, around, size: int, margin: float = 0.25, boxes=None):
    """Cut each picture around a box and resize the cut to ``size`` x ``size``: a closer look (notebook 07's heart).

    Each cut is the box ``around`` enlarged by ``margin`` of its width and height on
    every side (beyond the film's edge the edge is repeated). Returns ``(crops,
    windows)``: ``windows`` are the cuts' corners in the pictures' pixels, for
    ``uncrop_boxes``. Given ``boxes`` (say the radiologists'), returns them in the
    crops' pixels too: ``(crops, windows, boxes_in_crops)``.
    """
    images, around = np.asarray(images), np.asarray(around, dtype=np.float32).reshape(-1, 4)
    if len(images) != len(around):
        raise RadkitError(f"{len(images)} pictures but {len(around)} boxes to cut around.",
                          "Give one box per picture, in the same order.")
    if not margin >= 0:
        raise RadkitError(f"margin={margin!r} must be 0 or more (a share of the box's size).", "Use e.g. margin=0.25.")
    crops, windows, moved = [], [], []
    for i, (image, (x0, y0, x1, y1)) in enumerate(zip(images, around)):
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        win = np.round([x0 - margin * w, y0 - margin * h, x1 + margin * w, y1 + margin * h]).astype(int)
        win[2:] = np.maximum(win[2:], win[:2] + 1)   # at least one pixel, even around a zero-size box
        pad = int(max(0, -win[0], -win[1], win[2] - image.shape[1], win[3] - image.shape[0]))
        padded = np.pad(image, [(pad, pad), (pad, pad)] + [(0, 0)] * (image.ndim - 2), mode="edge") if pad else image
        cut = padded[win[1] + pad:win[3] + pad, win[0] + pad:win[2] + pad]
        inside = np.zeros((1, 4), np.float32) if boxes is None else np.asarray(boxes[i], np.float32).reshape(1, 4) - \
            np.array([win[0], win[1], win[0], win[1]], np.float32)
        picture, inside = resize_with_boxes(cut, inside, size)
        crops.append(picture)
        windows.append(win)
        moved.append(inside[0])
    crops, windows = np.stack(crops), np.array(windows, dtype=np.float32)
    return (crops, windows) if boxes is None else (crops, windows, np.array(moved, dtype=np.float32))


def uncrop_boxes(boxes_in_crops, windows, size: int) -> np.ndarray:
    """Boxes drawn on ``crop_around``'s crops, in the pixels of the pictures they were cut from (notebook 07)."""
    boxes_in_crops, windows = np.asarray(boxes_in_crops, np.float32).reshape(-1, 4), np.asarray(windows, np.float32)
    scale = np.concatenate([windows[:, 2:] - windows[:, :2]] * 2, axis=1) / size
    return boxes_in_crops * scale + np.concatenate([windows[:, :2]] * 2, axis=1)


def jitter_boxes(boxes, share: float = 0.06, copies: int = 8, seed: int = 0):
    """Boxes moved at random, each edge by about ``share`` of the box's size (notebook 07).

    Returns ``(which, moved)``: ``copies`` moved boxes per box and which box each came
    from. Cuts around such boxes (``crop_around``) teach a second model to correct a
    first model's box, which misses by about as much.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    which = np.repeat(np.arange(len(boxes)), copies)
    sizes = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)[which]
    moved = boxes[which] + np.random.default_rng(seed).normal(0, share, (len(which), 4)).astype(np.float32) * sizes
    return which, moved


# ---------------------------------------------------------------- cardiothoracic ratio

def box_of_mask(mask) -> np.ndarray:
    """The smallest box around the True pixels of a mask, as [x_min, y_min, x_max, y_max]."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise RadkitError("The mask is empty, so it has no box.", "Check that the mask belongs to this picture.")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float32)


def cardiothoracic_ratio(heart_boxes, thorax_boxes) -> np.ndarray | float:
    """Heart width / thoracic width, from a box around the heart and one around the thorax (notebook 07).

    On a PA film a ratio above 0.5 suggests an enlarged heart (an AP film
    magnifies the heart, so the 0.5 rule is less reliable there). The thoracic
    width is the widest inner width of the chest, rib margin to rib margin; a box
    around both lungs (for example ``box_of_mask(lung_mask)``) measures it.
    """
    heart = np.asarray(heart_boxes, dtype=np.float32).reshape(-1, 4)
    thorax = np.asarray(thorax_boxes, dtype=np.float32).reshape(-1, 4)
    if len(heart) != len(thorax):
        raise RadkitError(f"There are {len(heart)} heart boxes but {len(thorax)} thorax boxes.",
                          "Give one thorax box per heart box, in the same order.")
    ratio = (heart[:, 2] - heart[:, 0]) / np.maximum(thorax[:, 2] - thorax[:, 0], 1e-6)
    return float(ratio[0]) if np.ndim(heart_boxes) == 1 else ratio


def _first_rise(outward_slope: np.ndarray, share: float) -> int:
    """How far out the first steep brightening is: the first step at ``share`` of the steepest, then up to its peak."""
    if len(outward_slope) < 2 or outward_slope.max() <= 0:
        return len(outward_slope) - 1
    i = int(np.argmax(outward_slope >= share * outward_slope.max()))
    while i + 1 < len(outward_slope) and outward_slope[i + 1] > outward_slope[i]:
        i += 1
    return i


def estimate_thorax_boxes(images, heart_boxes=None, band=(0.4, 0.65), share: float = 0.4) -> np.ndarray:
    """A box spanning the chest's inner width on each frontal film, found from the film's brightness (notebook 07).

    For films without lung outlines (the NIH heart films have only heart boxes).
    Along each row, the lungs are the darkest part on either side of the middle;
    going outwards from a lung, the first steep brightening is the inner rib
    margin, where a radiologist measures the thoracic width. Rows are taken from
    the top of the heart box to its middle (``heart_boxes``), or from ``band``
    (fractions of the film's height); the edges are the 20th and 80th
    percentiles over those rows (the widest rows, not one unlucky row).
    Checked against real lung masks in ``benchmarks/detection.py``: it finds the
    width to within about 10 %, a little too narrow, which makes the
    cardiothoracic ratio a little too high. A rough measurement, not a diagnosis.
    Returns (N, 4) boxes ``[x_left, row_top, x_right, row_bottom]`` in pixels.
    """
    from scipy import ndimage

    from radkit.data import grey_stack

    images = grey_stack(images, "films", "Give the films as loaded by radkit.boxes.load_heart_boxes "
                                         "(for example heart.test[0]).")
    if heart_boxes is not None:
        heart_boxes = np.asarray(heart_boxes, dtype=np.float32).reshape(-1, 4)
        if len(heart_boxes) != len(images):
            raise RadkitError(f"There are {len(images)} films but {len(heart_boxes)} heart boxes.",
                              "Give one heart box per film, in the same order.")
    found = []
    for k, image in enumerate(images):
        height, width = image.shape
        film = ndimage.gaussian_filter(image.astype(np.float32), width / 100)
        if heart_boxes is None:
            top, bottom = int(band[0] * height), int(band[1] * height)
        else:
            top = int(np.clip(heart_boxes[k, 1], 0, height - 2))
            bottom = int(np.clip((heart_boxes[k, 1] + heart_boxes[k, 3]) / 2, top + 2, height))
        edge, middle, margin = int(0.03 * width), width // 2, int(0.13 * width)
        lefts, rights = [], []
        for row in range(top, bottom, max(1, (bottom - top) // 12)):
            profile = film[row]
            slope = np.gradient(profile)
            left_lung = margin + int(np.argmin(profile[margin:middle]))
            right_lung = middle + int(np.argmin(profile[middle:width - margin]))
            lefts.append(left_lung - _first_rise(-slope[edge:left_lung + 1][::-1], share))
            rights.append(right_lung + _first_rise(slope[right_lung:width - edge], share))
        found.append([np.percentile(lefts, 20), top, np.percentile(rights, 80) + 1, bottom])
    return np.array(found, dtype=np.float32)


# ---------------------------------------------------------------- several objects: mAP and counts

def _coco_objects(tables, with_scores: bool):
    """Boxes per picture as COCO's lists of dicts (ids from 1, boxes as x, y, w, h)."""
    objects = []
    for i, entry in enumerate(tables):
        boxes, labels = entry[0], entry[1]
        scores = entry[2] if with_scores else np.ones(len(boxes))
        for box, label, score in zip(convert(boxes, "xyxy", "coco"), labels, scores):
            obj = {"id": len(objects) + 1, "image_id": i + 1, "category_id": int(label) + 1,
                   "bbox": [float(v) for v in box], "area": float(box[2] * box[3]), "iscrowd": 0}
            if with_scores:
                obj["score"] = float(score)
            objects.append(obj)
    return objects


def evaluate_detections(truth, predictions, class_names, iou_threshold: float = 0.5) -> dict:
    """Average precision per class at one IoU threshold, computed by pycocotools' COCOeval (notebook 07).

    ``truth`` is a list with one ``(boxes, labels)`` per picture; ``predictions``
    one ``(boxes, labels, scores)`` per picture, in the same order. Returns
    ``{"AP": {class: AP}, "mAP": mean over classes, "precision": (101, classes),
    "recall_points": (101,)}``: precision at each recall from 0 to 1, what the
    precision-recall picture draws. A class without any true box gets NaN.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(truth) != len(predictions):
        raise RadkitError(f"There are {len(truth)} pictures with true boxes but {len(predictions)} with predictions.",
                          "Give one entry per picture, in the same order, even when it has no boxes.")
    pictures = [{"id": i + 1, "height": 1, "width": 1} for i in range(len(truth))]
    categories = [{"id": k + 1, "name": n} for k, n in enumerate(class_names)]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        ground = COCO()
        ground.dataset = {"images": pictures, "annotations": _coco_objects(truth, False), "categories": categories}
        ground.createIndex()
        found = _coco_objects(predictions, True)
        detected = ground.loadRes(found) if found else COCO()
        if not found:
            detected.dataset = {"images": pictures, "annotations": [], "categories": categories}
            detected.createIndex()
        run = COCOeval(ground, detected, "bbox")
        run.params.iouThrs = np.array([iou_threshold])
        run.params.maxDets = [1, 10, 1000]  # a smear has dozens of cells; COCO's default of 100 would cut some
        run.evaluate()
        run.accumulate()
    precision = run.eval["precision"][0, :, :, 0, -1]  # (recall points, classes) for all sizes, most detections
    per_class = {}
    for k, name in enumerate(class_names):
        values = precision[:, k]
        per_class[name] = float(values.mean()) if (values > -1).all() else float("nan")
    ap = np.array(list(per_class.values()))
    return {"AP": per_class, "mAP": float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan"),
            "precision": np.where(precision < 0, np.nan, precision), "recall_points": run.params.recThrs}


def plot_precision_recall(result: dict, class_names, ax=None):
    """Draw precision against recall for each class: the picture behind each AP number (notebook 07)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    for k, name in enumerate(class_names):
        ax.plot(result["recall_points"], result["precision"][:, k], label=f"{name} (AP {result['AP'][name]:.2f})")
    ax.set(xlabel="recall: share of real cells found", ylabel="precision: share of boxes that are real cells",
           xlim=(0, 1.02), ylim=(0, 1.05), title=f"Precision-recall at IoU 0.5 (mAP {result['mAP']:.2f})")
    ax.legend(fontsize=8)
    return ax


def count_objects(labels_per_picture, n_classes: int, scores_per_picture=None, threshold=0.5) -> np.ndarray:
    """How many objects of each class each picture has (detections with score >= ``threshold``), shape (pictures, classes).

    ``threshold`` is one number, or one per class (choose them on validation pictures).
    """
    limits = np.broadcast_to(np.asarray(threshold, dtype=float), (n_classes,))
    counts = []
    for i, labels in enumerate(labels_per_picture):
        labels = np.asarray(labels, dtype=int)
        if scores_per_picture is not None:
            labels = labels[np.asarray(scores_per_picture[i]) >= limits[labels]]
        counts.append(np.bincount(labels, minlength=n_classes)[:n_classes])
    return np.array(counts, dtype=int).reshape(-1, n_classes)


def confidence_sums(detections, n_classes: int, floor: float = 0.05) -> np.ndarray:
    """A count that weighs each found object by how sure the detector is of it, shape (pictures, classes) (notebook 07).

    ``detections``: one ``(boxes, labels, scores)`` per picture, as ``models.detect`` gives.
    A cell the detector is 60 % sure of adds 0.6 instead of 1 or 0, so a cell near a
    counting threshold no longer flips the count; boxes below ``floor`` add nothing.
    The sums are not counts yet: multiply them by how many objects were labelled per unit of
    sureness on validation pictures, e.g. ``true.sum(axis=0) / confidence_sums(val, n).sum(axis=0)``.
    """
    sums = np.zeros((len(detections), n_classes))
    for i, (_, labels, scores) in enumerate(detections):
        labels, scores = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
        if labels.shape != scores.shape:
            raise RadkitError(f"Picture {i + 1} has {labels.size} labels but {scores.size} confidences.",
                              "Give each found object one label and one confidence (what models.detect returns).")
        sure = scores >= floor
        sums[i] = np.bincount(labels[sure], weights=scores[sure], minlength=n_classes)[:n_classes]
    return sums


def count_errors(counted, truth) -> np.ndarray:
    """How far each picture's count is from the true count, as a share of it: 0.1 is 10 % off (notebook 07).

    A picture with nothing labelled has no count to be a share of: it comes back as NaN,
    so ``np.nanmean`` leaves it out rather than letting one picture weigh like a hundred.
    """
    counted, truth = np.asarray(counted, dtype=float), np.asarray(truth, dtype=float)
    if counted.shape != truth.shape:
        raise RadkitError(f"{counted.size} counts against {truth.size} true counts.",
                          "Give one count per picture for both, in the same order.")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(truth > 0, np.abs(counted - truth) / truth, np.nan)


def pad(boxes_per_picture, labels_per_picture) -> dict:
    """Boxes of pictures with different numbers of objects as one padded array: what Keras' layers take.

    Returns ``{"boxes": (N, M, 4), "labels": (N, M)}``, M the most boxes any
    picture has; padding rows have label -1 (Keras ignores them).
    """
    most = max([len(b) for b in boxes_per_picture] + [1])
    boxes = np.zeros((len(boxes_per_picture), most, 4), dtype=np.float32)
    labels = np.full((len(boxes_per_picture), most), -1, dtype=np.int32)
    for i, (b, lab) in enumerate(zip(boxes_per_picture, labels_per_picture)):
        boxes[i, :len(b)] = np.asarray(b, dtype=np.float32).reshape(-1, 4)
        labels[i, :len(lab)] = lab
    return {"boxes": boxes, "labels": labels}


