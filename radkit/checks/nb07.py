"""Exercises for notebook 07_detection."""

from __future__ import annotations

import re

from radkit.exercises import Exercise, cell_code, close_to, diagnose_bool

# Exercise 1: two boxes on a 10-pixel grid, worked out by hand (not with radkit.boxes.iou).
Q1_BOX_A, Q1_BOX_B = (0, 0, 40, 30), (20, 10, 60, 40)


def _q1(overlap, union, iou_value):
    ax0, ay0, ax1, ay1 = Q1_BOX_A
    bx0, by0, bx1, by1 = Q1_BOX_B
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    total = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return (close_to(overlap, inter, 0.5, "overlap (in square pixels)")
            or close_to(union, total, 0.5, "union (both areas minus the overlap, counted once)")
            or close_to(iou_value, inter / total, 0.005, "iou_value (overlap / union)"))


# Exercise 2: a Pascal VOC box (corners) to COCO (x, y, width, height).
Q2_VOC = (48, 240, 171, 355)


def _q2(coco_box):
    x0, y0, x1, y1 = Q2_VOC
    return close_to(list(coco_box), [x0, y0, x1 - x0, y1 - y0], 0.01, "coco_box")


# Exercise 3: a smear's white cells as a share of all cells, against a range.
def _q3(wbc_share, in_range, counts, low, high):
    rbc, wbc = int(counts["RBC"]), int(counts["WBC"])
    share = wbc / (rbc + wbc)
    problem = close_to(wbc_share, share, 0.0005, "wbc_share (white cells / (red + white cells), a fraction)")
    if problem:
        return problem
    problem = diagnose_bool(in_range, low <= share <= high, "in_range")
    if problem:
        return problem
    # On this smear a one-sided test can give the right answer by luck: a range has two ends, check both.
    line = next((l for l in cell_code().splitlines() if re.match(r"\s*in_range\s*=", l)), "")
    if len({"low", "high"} & set(re.findall(r"[A-Za-z_]\w*", line))) == 1:
        return ("in_range compares wbc_share with only one end of the range; it happens to give the right answer "
                "on this smear, but a smear beyond the other end would pass too. Check both: "
                "low <= wbc_share <= high.")
    return None


q1 = Exercise(
    "q1", _q1,
    hint="The overlap runs from the larger left edge to the smaller right edge (and the same for top and "
         "bottom). Union = area A + area B - overlap.",
    solution="overlap = (40 - 20) * (30 - 10)\nunion = 40 * 30 + 40 * 30 - overlap\niou_value = overlap / union",
    wrong=("overlap = (40 - 20) * (30 - 10)\nunion = 40 * 30 + 40 * 30\niou_value = overlap / union",
           "overlap = (40 - 20 + 1) * (30 - 10 + 1)\nunion = 41 * 31 + 41 * 31 - overlap\niou_value = overlap / union",
           "overlap = (40 - 20) * (30 - 10)\nunion = 40 * 30 + 40 * 30 - overlap\niou_value = overlap / (40 * 30)"),
)
q2 = Exercise(
    "q2", _q2,
    hint="COCO keeps the top-left corner and stores the width (x_max - x_min) and height (y_max - y_min).",
    solution="coco_box = [48, 240, 171 - 48, 355 - 240]",
    wrong=("coco_box = [48, 240, 171, 355]",
           "coco_box = [(48 + 171) / 2, (240 + 355) / 2, 171 - 48, 355 - 240]",
           "coco_box = [240, 48, 355 - 240, 171 - 48]"),
)
q3 = Exercise(
    "q3", _q3,
    hint='wbc_share = counts["WBC"] / (counts["RBC"] + counts["WBC"]); in_range = low <= wbc_share <= high',
    solution='wbc_share = counts["WBC"] / (counts["RBC"] + counts["WBC"])\nin_range = low <= wbc_share <= high',
    wrong=('wbc_share = 100 * counts["WBC"] / (counts["RBC"] + counts["WBC"])\nin_range = low <= wbc_share <= high',
           'wbc_share = counts["WBC"] / counts["RBC"]\nin_range = not (low <= wbc_share <= high)',
           'wbc_share = counts["RBC"] / (counts["RBC"] + counts["WBC"])\nin_range = low <= wbc_share <= high',
           'wbc_share = counts["WBC"] / (counts["RBC"] + counts["WBC"])\nin_range = "no"',
           'wbc_share = counts["WBC"] / (counts["RBC"] + counts["WBC"])\nin_range = "False"',
           'wbc_share = counts["WBC"] / (counts["RBC"] + counts["WBC"])\nin_range = low, high',
           'wbc_share = counts["WBC"] / (counts["RBC"] + counts["WBC"])\nin_range = wbc_share > low'),
)
