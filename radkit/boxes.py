"""Boxes around things in pictures: formats, reading and writing them, IoU, drawing, counting.

Introduced in notebook 07_detection.

**One box format inside RadKit**, written down once: ``[x_min, y_min, x_max, y_max]``
in pixels of the picture the box belongs to, x to the right and y downwards
from the picture's top-left corner, the end *exclusive*: a box ``[10, 20, 30, 40]``
is 20 pixels wide and 20 tall (``x_max - x_min``), with no ``+1`` anywhere.
This is Keras' ``"xyxy"`` and what COCO's tools assume. Every other format is
converted into it on reading and out of it on writing, by name:

=========  ============================================  =====================================
format     numbers per box                               where you meet it
=========  ============================================  =====================================
``nih``    x, y, width, height (pixels)                   NIH ChestX-ray14 ``BBox_List_2017.csv``
``coco``   x, y, width, height (pixels)                   COCO JSON (``"bbox"``)
``voc``    x_min, y_min, x_max, y_max (pixels)            Pascal VOC XML (``<bndbox>``), CVAT XML
``yolo``   centre x, centre y, width, height (0..1)       YOLO text files, one per picture
=========  ============================================  =====================================

``load_boxes(path)`` reads any of them into a ``BoxTable`` of plain arrays;
``save_boxes(table, path, format)`` writes one. ``convert`` and the arithmetic
under ``iou`` are Keras' own (``keras.utils.bounding_boxes``), so what the
learner sees here is what they keep using after the course.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config
from radkit.errors import RadkitError

FORMATS = ("xyxy", "nih", "coco", "voc", "yolo")
# How each format is called in Keras' convert_format.
_KERAS_NAME = {"xyxy": "xyxy", "voc": "xyxy", "nih": "xywh", "coco": "xywh", "yolo": "rel_center_xywh"}


# ---------------------------------------------------------------- one box, several formats

def _keras_format(name: str) -> str:
    if name not in _KERAS_NAME:
        raise RadkitError(f"{name!r} is not a box format RadKit knows.", f"Use one of: {', '.join(FORMATS)}.")
    return _KERAS_NAME[name]


def convert(boxes, source: str, target: str, image_size=None) -> np.ndarray:
    """Convert boxes between formats (``"xyxy"``, ``"nih"``, ``"coco"``, ``"voc"``, ``"yolo"``) (notebook 07).

    ``image_size`` is (height, width) in pixels; YOLO needs it, because YOLO
    stores fractions of the picture. Returns float32 boxes, one row per box.

    >>> convert([[10, 20, 30, 40]], "nih", "xyxy")     # x, y, w, h -> corners
    array([[10., 20., 40., 60.]], dtype=float32)
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    keras_source, keras_target = _keras_format(source), _keras_format(target)
    if keras_source == keras_target:
        return boxes.copy()
    if "rel" in keras_source + keras_target and image_size is None:
        raise RadkitError("YOLO boxes are fractions of the picture, so converting them needs the picture's size.",
                          "Give image_size=(height, width), for example image_size=(1024, 1024).")
    height, width = image_size if image_size is not None else (None, None)
    keras = config.import_keras()
    out = keras.utils.bounding_boxes.convert_format(boxes, keras_source, keras_target, height=height, width=width)
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32).reshape(-1, 4)


def check_boxes(boxes, image_size, where: str = "", tolerance: float = 1.0) -> np.ndarray:
    """Refuse boxes of zero size or outside the picture, with a plain message; return them as float32 corners."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    height, width = image_size
    at = f" in {where}" if where else ""
    for box in boxes:
        x0, y0, x1, y1 = (float(v) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise RadkitError(f"A box{at} has zero or negative size: [{x0:g}, {y0:g}, {x1:g}, {y1:g}] "
                              "(x_min, y_min, x_max, y_max).",
                              "Each box needs x_max > x_min and y_max > y_min: redraw it, or leave it out "
                              "(loaders skip such boxes with on_error='skip').")
        if x0 < -tolerance or y0 < -tolerance or x1 > width + tolerance or y1 > height + tolerance:
            raise RadkitError(f"A box{at} lies (partly) outside the {width} x {height} picture: "
                              f"[{x0:g}, {y0:g}, {x1:g}, {y1:g}].",
                              "Check that the box belongs to this picture and is in its pixels (not in "
                              "fractions, not in another image size); or clip it with radkit.boxes.clip().")
    return boxes


def clip(boxes, image_size) -> np.ndarray:
    """Cut boxes back to the picture's edges (a box half outside keeps its inside half)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    height, width = image_size
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes


def area(boxes) -> np.ndarray:
    """Area of each box in square pixels: (x_max - x_min) x (y_max - y_min)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def iou_matrix(boxes_a, boxes_b) -> np.ndarray:
    """IoU of every box in ``boxes_a`` with every box in ``boxes_b`` (Keras' ``compute_iou``), shape (len a, len b)."""
    a = np.asarray(boxes_a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float32).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), dtype=np.float32)
    keras = config.import_keras()
    out = keras.utils.bounding_boxes.compute_iou(a, b, "xyxy")
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)


def iou(boxes_a, boxes_b) -> np.ndarray | float:
    """Intersection over union of boxes paired row by row: overlap area / area covered by either (notebook 07).

    1 means the same box, 0 means no overlap. Two single boxes give one number.
    """
    a = np.asarray(boxes_a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float32).reshape(-1, 4)
    if len(a) != len(b):
        raise RadkitError(f"iou pairs boxes row by row, but there are {len(a)} and {len(b)} boxes.",
                          "Give the same number of boxes, or use radkit.boxes.iou_matrix to compare every pair.")
    values = np.array([iou_matrix(x, y)[0, 0] for x, y in zip(a, b)], dtype=np.float32)
    return float(values[0]) if np.ndim(boxes_a) == 1 else values


# ---------------------------------------------------------------- a table of boxes

@dataclass
class BoxTable:
    """Boxes of many pictures, as plain arrays: what ``load_boxes`` returns (notebook 07).

    ``files[i]`` is picture i's file name, ``sizes[i]`` its (height, width),
    ``boxes[i]`` its boxes (n, 4) as corners ``[x_min, y_min, x_max, y_max]`` in
    pixels, ``labels[i]`` their class numbers (n,) and ``class_names`` the names.
    """

    files: list[str]
    sizes: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    class_names: list[str]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)

    def counts(self) -> np.ndarray:
        """How many boxes of each class each picture has, shape (pictures, classes)."""
        return np.array([np.bincount(lab.astype(int), minlength=len(self.class_names)) for lab in self.labels],
                        dtype=int).reshape(len(self), len(self.class_names))

    def select(self, index) -> "BoxTable":
        """The pictures at ``index`` (positions or a boolean mask), boxes kept with their picture."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index, dtype=int)
        return BoxTable([self.files[i] for i in index], self.sizes[index], [self.boxes[i] for i in index],
                        [self.labels[i] for i in index], list(self.class_names), list(self.notes))

    def describe(self) -> None:
        """Print how many pictures and boxes of each class the table holds."""
        totals = self.counts().sum(axis=0)
        parts = ", ".join(f"{name} {n}" for name, n in zip(self.class_names, totals))
        print(f"{len(self)} pictures, {int(totals.sum())} boxes ({parts})")
        for note in self.notes:
            print("Note:", note)


def _class_number(name: str, class_names: list[str], fixed: bool, where: str) -> int:
    if name not in class_names:
        if fixed:
            raise RadkitError(f"Unknown class name {name!r} in {where}.",
                              f"The classes given are: {', '.join(class_names)}. Correct the label, or add "
                              f"{name!r} to class_names.")
        class_names.append(name)
    return class_names.index(name)


class _Collector:
    """Gathers boxes picture by picture while a file is read, checking each box."""

    def __init__(self, class_names, on_error: str):
        if on_error not in ("raise", "skip"):
            raise RadkitError(f"on_error={on_error!r} is not understood.", "Use 'raise' or 'skip'.")
        self.fixed = class_names is not None
        self.class_names = list(class_names or [])
        self.on_error = on_error
        self.pictures: dict[str, dict] = {}
        self.skipped: list[str] = []

    def picture(self, name: str, size) -> None:
        entry = self.pictures.setdefault(name, {"size": None, "boxes": [], "labels": []})
        if size is not None:
            entry["size"] = tuple(int(v) for v in size)

    def add(self, name: str, box_xyxy, label: str, where: str) -> None:
        self.picture(name, None)
        number = _class_number(str(label), self.class_names, self.fixed, where)
        size = self.pictures[name]["size"]
        try:
            box = check_boxes(box_xyxy, size, where) if size else np.asarray(box_xyxy, np.float32).reshape(-1, 4)
            if not size:
                check_boxes(box, (np.inf, np.inf), where)
        except RadkitError as error:
            if self.on_error == "raise":
                raise
            self.skipped.append(error.problem)
            return
        self.pictures[name]["boxes"].append(box[0])
        self.pictures[name]["labels"].append(number)

    def table(self, source: str) -> BoxTable:
        if not self.pictures:
            raise RadkitError(f"{source} holds no pictures or boxes.", "Check that this is the right file.")
        missing = [n for n, e in self.pictures.items() if e["size"] is None]
        if missing:
            raise RadkitError(f"The size of {len(missing)} picture(s) is unknown, e.g. {missing[0]}.",
                              "Give images=FOLDER (the pictures are looked at for their size) or "
                              "image_size=(height, width) when they all have the same size.")
        names = list(self.pictures)
        entries = [self.pictures[n] for n in names]
        notes = []
        if self.skipped:
            notes.append(f"{len(self.skipped)} box(es) skipped: {self.skipped[0]}")
        empty = sum(1 for e in entries if not e["boxes"])
        if empty:
            notes.append(f"{empty} picture(s) have no boxes (kept: a picture with nothing to find is allowed).")
        return BoxTable(names, np.array([e["size"] for e in entries], dtype=int).reshape(-1, 2),
                        [np.array(e["boxes"], dtype=np.float32).reshape(-1, 4) for e in entries],
                        [np.array(e["labels"], dtype=int) for e in entries], self.class_names, notes)


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) of a picture file, read from its header only."""
    from PIL import Image

    with Image.open(path) as picture:
        return picture.height, picture.width


def _sizes_from(collector: _Collector, images, image_size, source: str) -> None:
    """Fill in each picture's size from ``image_size`` or from the picture files in ``images``."""
    for name, entry in collector.pictures.items():
        if entry["size"] is not None:
            continue
        if images is not None:
            path = Path(images) / name
            if not path.is_file():
                raise RadkitError(f"{source} has boxes for {name}, but there is no such picture in the folder "
                                  f"{Path(images).name}/.",
                                  "Check that the boxes and the pictures belong together (same names), or "
                                  "remove the rows of pictures you do not have.")
            entry["size"] = _image_size(path)
        elif image_size is not None:
            entry["size"] = tuple(int(v) for v in image_size)


def _read_csv(path: Path, collector: _Collector, images, image_size) -> None:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise RadkitError(f"{path.name} is empty.", "Check that this is the right file.")
    header = [h.strip() for h in rows[0]]
    nih = header[:2] == ["Image Index", "Finding Label"]
    corners = {"xmin", "ymin", "xmax", "ymax"} <= set(header)
    if not (nih or corners):
        raise RadkitError(f"{path.name} is not a box list RadKit can read (its columns: {', '.join(header)}).",
                          "Use NIH's BBox_List format (Image Index, Finding Label, x, y, w, h) or a CSV "
                          "with columns image_file, label, xmin, ymin, xmax, ymax (and width, height).")
    column = {name: i for i, name in enumerate(header)}
    pending = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        where = f"{path.name}, line {number}"
        try:
            if nih:
                name, label = row[0], row[1]
                box = convert([float(v) for v in row[2:6]], "nih", "xyxy")
                size = None
            else:
                name, label = row[column.get("image_file", 0)], row[column["label"]]
                box = np.array([[float(row[column[k]]) for k in ("xmin", "ymin", "xmax", "ymax")]], np.float32)
                size = ((int(float(row[column["height"]])), int(float(row[column["width"]])))
                        if "width" in column and "height" in column else None)
        except (ValueError, IndexError):
            raise RadkitError(f"{where} could not be read as a box: {','.join(row)}",
                              "Each row needs a file name, a label and four numbers.") from None
        collector.picture(name, size)
        pending.append((name, box, label, where))
    _sizes_from(collector, images, image_size, path.name)
    for name, box, label, where in pending:
        collector.add(name, box, label, where)


def _read_xml(path: Path, collector: _Collector, single: bool) -> None:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise RadkitError(f"{path.name} is not readable XML ({error}).", "Check that this is the right file.") from None
    if root.tag == "annotation":  # Pascal VOC: one picture per file
        name = root.findtext("filename") or path.with_suffix(".jpg").name
        size = (int(float(root.findtext("size/height", "0"))), int(float(root.findtext("size/width", "0"))))
        objects = root.findall("object")
        if single and not objects:
            raise RadkitError(f"{path.name} describes the picture {name} but has no objects (no <object> boxes).",
                              "If the picture really shows nothing to find, that is fine inside a folder of "
                              "annotations; if not, the boxes were lost on export: export them again.")
        collector.picture(name, size if all(size) else None)
        for obj in objects:
            box = [float(obj.findtext(f"bndbox/{k}", "nan")) for k in ("xmin", "ymin", "xmax", "ymax")]
            collector.add(name, [box], obj.findtext("name", "").strip(), f"{path.name} ({name})")
    elif root.tag == "annotations":  # CVAT's XML for images: many pictures per file
        pictures = root.findall("image")
        if single and not any(p.findall("box") for p in pictures):
            raise RadkitError(f"{path.name} has no boxes.", "Export the annotations again, with their boxes.")
        for picture in pictures:
            name = picture.get("name")
            collector.picture(name, (int(picture.get("height")), int(picture.get("width"))))
            for box in picture.findall("box"):
                corners = [float(box.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
                collector.add(name, [corners], box.get("label"), f"{path.name} ({name})")
    else:
        raise RadkitError(f"{path.name} is XML, but neither Pascal VOC (<annotation>) nor CVAT (<annotations>).",
                          "Export the boxes as Pascal VOC, COCO, YOLO or CSV.")


def _read_coco(path: Path, collector: _Collector) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        categories = {c["id"]: c["name"] for c in data["categories"]}
        pictures = {p["id"]: p for p in data["images"]}
        annotations = data.get("annotations", [])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise RadkitError(f"{path.name} is not a COCO file ({type(error).__name__}: {error}).",
                          "A COCO file is JSON with 'images', 'annotations' and 'categories'.") from None
    if collector.fixed is False:  # keep COCO's own class order
        collector.class_names = [categories[k] for k in sorted(categories)]
    for picture in pictures.values():
        collector.picture(picture["file_name"], (picture["height"], picture["width"]))
    for ann in annotations:
        picture = pictures.get(ann["image_id"])
        if picture is None:
            raise RadkitError(f"{path.name}: a box refers to picture id {ann['image_id']}, which is not listed.",
                              "The file is damaged or cut short; export it again.")
        if ann["category_id"] not in categories:
            raise RadkitError(f"{path.name}: unknown class id {ann['category_id']} (known: {sorted(categories)}).",
                              "Export the file again with its categories.")
        collector.add(picture["file_name"], convert(ann["bbox"], "coco", "xyxy"), categories[ann["category_id"]],
                      f"{path.name} (box id {ann.get('id')})")


def _read_yolo(folder: Path, collector: _Collector, images, image_size) -> None:
    files = sorted(p for p in folder.glob("*.txt") if p.name != "classes.txt")
    names_file = folder / "classes.txt"
    if names_file.is_file() and not collector.fixed:
        collector.class_names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
        collector.fixed = True
    if not collector.class_names:
        raise RadkitError(f"YOLO files store class numbers, not names, and {folder.name}/ has no classes.txt.",
                          "Give class_names=[...] in the order of the numbers (0 first).")
    stems = {}
    if images is not None:
        stems = {p.stem: p.name for p in Path(images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")}
    for file in files:
        name = stems.get(file.stem, file.stem + ".jpg")
        collector.picture(name, None)
    _sizes_from(collector, images, image_size, folder.name)
    for file in files:
        name = stems.get(file.stem, file.stem + ".jpg")
        size = collector.pictures[name]["size"]
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            where = f"{file.name}, line {number}"
            try:
                index, numbers = int(parts[0]), [float(v) for v in parts[1:5]]
            except (ValueError, IndexError):
                raise RadkitError(f"{where} is not a YOLO box: {line!r}",
                                  "Each line is: class x_centre y_centre width height.") from None
            if not 0 <= index < len(collector.class_names):
                raise RadkitError(f"Unknown class number {index} in {where}.",
                                  f"The classes are numbered 0 to {len(collector.class_names) - 1}: "
                                  f"{', '.join(collector.class_names)}.")
            collector.add(name, convert(numbers, "yolo", "xyxy", size), collector.class_names[index], where)


def load_boxes(path, images=None, class_names=None, image_size=None, on_error: str = "raise") -> BoxTable:
    """Read boxes from an NIH/corner CSV, Pascal VOC or CVAT XML (a file or a folder), COCO JSON or YOLO folder (notebook 07).

    The format is recognised from the file. ``images`` is the folder of the
    pictures: it is used for their sizes when the file does not say them
    (NIH CSV, YOLO) and to check every picture exists. ``class_names`` fixes
    the classes (an unknown name is then an error). ``on_error="skip"`` leaves
    out faulty boxes (zero size, outside the picture) with a note instead of stopping.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise RadkitError(f"There is nothing at {path}.", "Check the spelling of the path.")
    collector = _Collector(class_names, on_error)
    if path.is_dir():
        xml_files = sorted(path.glob("*.xml"))
        if xml_files:
            for file in xml_files:
                _read_xml(file, collector, single=False)
        elif any(path.glob("*.txt")):
            _read_yolo(path, collector, images, image_size)
        else:
            raise RadkitError(f"{path.name}/ holds no .xml (Pascal VOC) or .txt (YOLO) box files.",
                              "Point at the folder of annotation files, or at a .csv or .json file.")
    elif path.suffix.lower() == ".csv":
        _read_csv(path, collector, images, image_size)
    elif path.suffix.lower() == ".xml":
        _read_xml(path, collector, single=True)
    elif path.suffix.lower() == ".json":
        _read_coco(path, collector)
    else:
        raise RadkitError(f"{path.name}: RadKit reads boxes from .csv, .xml, .json or a folder of .txt (YOLO).",
                          "Export the boxes in one of these formats.")
    table = collector.table(path.name)
    if images is not None:
        absent = [name for name in table.files if not (Path(images) / name).is_file()]
        if absent:
            raise RadkitError(f"{path.name} has boxes for {len(absent)} picture(s) that are not in "
                              f"{Path(images).name}/, e.g. {absent[0]}.",
                              "Check that the boxes and the pictures belong together, or remove those rows.")
    return table


def save_boxes(table: BoxTable, path, format: str) -> Path:
    """Write a ``BoxTable`` as ``"nih"`` or ``"csv"`` (corners), ``"voc"`` (a folder of XML), ``"coco"`` or ``"yolo"``.

    Refuses to overwrite a file or folder that is already there.
    """
    path = Path(path).expanduser()
    if path.exists():
        raise RadkitError(f"{path.name} already exists; RadKit does not overwrite files.",
                          "Choose a new name, or move the old one away first.")
    if format in ("nih", "csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["Image Index", "Finding Label", "Bbox [x", "y", "w", "h]"] if format == "nih"
                        else ["image_file", "label", "xmin", "ymin", "xmax", "ymax", "width", "height"])
        for name, (h, w), boxes, labels in zip(table.files, table.sizes, table.boxes, table.labels):
            numbers = convert(boxes, "xyxy", "nih") if format == "nih" else boxes
            for box, label in zip(numbers, labels):
                extra = [] if format == "nih" else [int(w), int(h)]
                writer.writerow([name, table.class_names[label], *(f"{v:g}" for v in box), *extra])
        path.write_text(buffer.getvalue())
    elif format == "coco":
        images = [{"id": i + 1, "file_name": n, "height": int(s[0]), "width": int(s[1])}
                  for i, (n, s) in enumerate(zip(table.files, table.sizes))]
        annotations = []
        for i, (boxes, labels) in enumerate(zip(table.boxes, table.labels)):
            for box, label in zip(convert(boxes, "xyxy", "coco"), labels):
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label) + 1,
                                    "bbox": [float(v) for v in box], "area": float(box[2] * box[3]), "iscrowd": 0})
        categories = [{"id": k + 1, "name": n} for k, n in enumerate(table.class_names)]
        path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    elif format in ("voc", "yolo"):
        path.mkdir(parents=True)
        for name, (h, w), boxes, labels in zip(table.files, table.sizes, table.boxes, table.labels):
            stem = Path(name).stem
            if format == "yolo":
                lines = [f"{label} " + " ".join(f"{v:.6f}" for v in box)
                         for box, label in zip(convert(boxes, "xyxy", "yolo", (h, w)), labels)]
                (path / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
                continue
            root = ElementTree.Element("annotation")
            ElementTree.SubElement(root, "filename").text = name
            size = ElementTree.SubElement(root, "size")
            for key, value in (("width", w), ("height", h), ("depth", 1)):
                ElementTree.SubElement(size, key).text = str(int(value))
            for box, label in zip(boxes, labels):
                obj = ElementTree.SubElement(root, "object")
                ElementTree.SubElement(obj, "name").text = table.class_names[label]
                bndbox = ElementTree.SubElement(obj, "bndbox")
                for key, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
                    ElementTree.SubElement(bndbox, key).text = f"{value:g}"
            ElementTree.ElementTree(root).write(path / f"{stem}.xml")
        if format == "yolo":
            (path / "classes.txt").write_text("\n".join(table.class_names) + "\n")
    else:
        raise RadkitError(f"format={format!r} is not one RadKit writes.", "Use 'nih', 'csv', 'voc', 'coco' or 'yolo'.")
    return path


# ---------------------------------------------------------------- pictures with their boxes

def resize_with_boxes(image: np.ndarray, boxes, size) -> tuple[np.ndarray, np.ndarray]:
    """Resize one grey picture to ``size`` (an int, or (height, width)) and scale its boxes with it."""
    from PIL import Image

    height, width = (size, size) if np.isscalar(size) else size
    h0, w0 = image.shape[:2]
    picture = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    scale = np.array([width / w0, height / h0, width / w0, height / h0], dtype=np.float32)
    return picture, np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * scale


def read_pictures(table: BoxTable, folder, size=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Read the pictures of a ``BoxTable`` as grey uint8 (N, H, W), resized to ``size`` with their boxes scaled.

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
        path = Path(folder) / name
        if not path.is_file():
            raise RadkitError(f"The picture {name} is not in {Path(folder).name}/.",
                              "Check that the boxes and the pictures belong together.")
        with Image.open(path) as picture:
            grey = np.asarray(picture.convert("L"))  # colour smears become grey; X-rays already are
        if size is not None:
            grey, picture_boxes = resize_with_boxes(grey, picture_boxes, size)
        pictures.append(grey)
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


# ---------------------------------------------------------------- the course's detection data

@dataclass
class BoxDataset:
    """Pictures with their boxes, split into train, validation and test, each ``(images, boxes)`` (notebook 07).

    For the heart, ``boxes`` is (N, 4): one box per film. For cells it is a list
    with one (n, 4) array per smear, and ``labels`` holds their classes.
    ``info`` keeps per-picture facts (file, patient, view, thorax box) split the same way.
    """

    name: str
    source: str
    is_real: bool
    class_names: list[str]
    train: tuple
    val: tuple
    test: tuple
    labels: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def describe(self) -> None:
        """Print which data this is and how many pictures and boxes each split holds."""
        kind = "REAL patient images" if self.is_real else "PRACTICE phantoms (generated, not real patients)"
        print(f"Data: {self.name} - {kind}\nFrom: {self.source}")
        print(f"Picture size: {self.train[0].shape[1]} x {self.train[0].shape[2]} pixels (height x width)")
        for split in ("train", "val", "test"):
            images, boxes = getattr(self, split)
            n_boxes = sum(len(b) for b in boxes) if isinstance(boxes, list) else len(boxes)
            print(f"  {split:5s}: {len(images):4d} pictures, {n_boxes:5d} boxes")


def _split_by_group(groups, fractions=(0.6, 0.2), seed: int = 0):
    """Positions of train, val and test, with every picture of one patient in the same split."""
    rng = np.random.default_rng(seed)
    unique = rng.permutation(np.unique(groups))
    cut1, cut2 = int(round(len(unique) * fractions[0])), int(round(len(unique) * sum(fractions)))
    parts = (unique[:cut1], unique[cut1:cut2], unique[cut2:])
    return [np.flatnonzero(np.isin(groups, part)) for part in parts]


def load_heart_boxes(size: int = 128, source: str = "auto", seed: int = 0) -> BoxDataset:
    """Chest films with a box around the heart: the NIH radiologists' boxes when available, phantoms otherwise (notebook 07).

    The real set is 146 NIH ChestX-ray14 films boxed for *Cardiomegaly*, so every
    heart in it is enlarged. It is split by patient (60/20/20 %), never film by
    film. Pictures are resized to ``size`` pixels and the boxes scaled with them.
    ``info`` holds ``files``, ``patients``, ``views`` (AP or PA) and, for phantoms,
    ``thorax_boxes`` (the box around both lungs).
    """
    from radkit import download, phantoms

    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'real', 'phantom'.", "Use source='auto'.")
    folder, reason = None, "you asked for phantoms"
    if source != "phantom":
        listed = download.stored_copy("cxr_heart_boxes", "BBox_List_Cardiomegaly.csv")
        if listed is not None and (listed.parent / "images").is_dir():
            folder = listed.parent
        elif source == "real":
            raise RadkitError("The NIH heart boxes (cxr_heart_boxes/BBox_List_Cardiomegaly.csv with images/) are "
                              "not on this computer.", "See radkit.registry.get('nih_heart_boxes').notes.")
        else:
            reason = "the NIH heart boxes are not on this computer (see radkit.registry.get('nih_heart_boxes'))"
    if folder is None:
        print(f"Using PRACTICE chest films (phantoms), because: {reason}")
        films = phantoms.chest_xrays(config.pick(600, 240), size=size, seed=seed)
        thorax = np.stack([box_of_mask(m) for m in films["lung_masks"]])
        n = len(films["images"])
        parts = _split_by_group(np.arange(n), seed=seed)
        info = {"views": np.array(["PA"] * n), "patients": np.arange(n), "thorax_boxes": thorax,
                "files": np.array([f"phantom_{i:04d}" for i in range(n)])}
        name, where, real, images, boxes = ("RadKit chest phantoms", "generated on this computer by radkit.phantoms",
                                            False, films["images"], films["heart_boxes"])
    else:
        table = load_boxes(folder / "BBox_List_Cardiomegaly.csv", images=folder / "images")
        images, listed_boxes = read_pictures(table, folder / "images", size=size)
        boxes = np.concatenate(listed_boxes)
        facts = {}
        with open(folder / "Data_Entry_subset.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                facts[row["Image Index"]] = row
        info = {"files": np.array(table.files),
                "patients": np.array([int(facts[f]["Patient ID"]) for f in table.files]),
                "views": np.array([facts[f]["View Position"] for f in table.files]),
                "ages": np.array([int(facts[f]["Patient Age"]) for f in table.files]),
                "sexes": np.array([facts[f]["Patient Gender"] for f in table.files])}
        parts = _split_by_group(info["patients"], seed=seed)
        name, where, real = ("NIH ChestX-ray14 heart boxes (Cardiomegaly)",
                             "NIH Clinical Center, BBox_List_2017 (Wang et al., CVPR 2017)", True)
    split = {k: v for k, v in zip(("train", "val", "test"), parts)}
    return BoxDataset(name, where, real, ["heart"], *((images[i], boxes[i]) for i in parts),
                      info={s: {k: v[i] for k, v in info.items()} for s, i in split.items()})


BLOOD_CLASSES = ["RBC", "WBC", "Platelets"]


def phantom_smears(n: int, size=(120, 160), seed: int = 0) -> tuple[np.ndarray, list, list]:
    """Draw ``n`` practice blood smears (grey): pale red cells, a few large dark-nucleus white cells, small platelets.

    Returns pictures (n, height, width) uint8, boxes per picture and labels per picture (0 RBC, 1 WBC, 2 platelet).
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    height, width = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pictures, all_boxes, all_labels = [], [], []
    for _ in range(n):
        image = np.full(size, 0.82, np.float32)
        boxes, labels = [], []
        plan = [1] * rng.integers(0, 3) + [2] * rng.integers(0, 4) + [0] * rng.integers(6, 16)
        for label in plan:
            radius = {0: rng.uniform(8, 11), 1: rng.uniform(14, 19), 2: rng.uniform(2.5, 4)}[label]
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            disc = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
            if label == 0:
                image[disc] = 0.62
                image[(x - cx) ** 2 + (y - cy) ** 2 <= (0.45 * radius) ** 2] = 0.72  # central pallor
            elif label == 1:
                image[disc] = 0.7
                for _ in range(3):  # lobed nucleus
                    ox, oy = rng.normal(0, radius / 3, 2)
                    image[(x - cx - ox) ** 2 + (y - cy - oy) ** 2 <= (0.4 * radius) ** 2] = 0.25
            else:
                image[disc] = 0.35
            box = clip([[cx - radius, cy - radius, cx + radius, cy + radius]], size)[0]
            if (box[2:] - box[:2] >= 2).all():
                boxes.append(box)
                labels.append(label)
        image = ndimage.gaussian_filter(image, 0.8) + rng.normal(0, 0.02, size).astype(np.float32)
        pictures.append((np.clip(image, 0, 1) * 255).astype(np.uint8))
        all_boxes.append(np.array(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.array(labels, int))
    return np.stack(pictures), all_boxes, all_labels


def load_blood_cells(size=(120, 160), source: str = "auto", seed: int = 0) -> BoxDataset:
    """Blood smears with boxes around red cells, white cells and platelets: BCCD when available, phantoms otherwise (notebook 07).

    BCCD's own train/val/test lists are used. Pictures (640 x 480 colour) become
    grey and ``size`` (height, width) pixels, with their boxes scaled; ``info``
    keeps each smear's file name and its boxes in the original 640 x 480 pixels.
    Two BCCD boxes of zero size are skipped (flaws of the published set).
    """
    from radkit import download

    if source not in ("auto", "real", "phantom"):
        raise RadkitError(f"source={source!r} is not one of 'auto', 'real', 'phantom'.", "Use source='auto'.")
    root, reason = None, "you asked for phantoms"
    if source != "phantom":
        readme = download.stored_copy("bccd", "BCCD/ImageSets/Main/test.txt")
        if readme is not None:
            root = readme.parents[2]
        elif source == "real":
            raise RadkitError("BCCD is not on this computer.", "See radkit.registry.get('bccd').")
        else:
            reason = "BCCD is not on this computer (see radkit.registry.get('bccd'))"
    if root is None:
        print(f"Using PRACTICE blood smears (phantoms), because: {reason}")
        counts = config.pick((200, 60, 60), (80, 30, 30))
        splits, labels, info = [], {}, {}
        for split, n, offset in zip(("train", "val", "test"), counts, (0, 1000, 2000)):
            pictures, boxes, classes = phantom_smears(n, size, seed=seed + offset)
            splits.append((pictures, boxes))
            labels[split] = classes
            info[split] = {"files": np.array([f"smear_{offset + i:04d}" for i in range(n)]), "original_boxes": boxes,
                           "original_size": size}
        return BoxDataset("RadKit blood smear phantoms", "generated on this computer by radkit.boxes", False,
                          list(BLOOD_CLASSES), *splits, labels=labels, info=info)
    table = load_boxes(root / "Annotations", class_names=BLOOD_CLASSES, on_error="skip")
    position = {Path(f).stem: i for i, f in enumerate(table.files)}
    splits, labels, info = [], {}, {}
    for split in ("train", "val", "test"):
        names = (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        part = table.select([position[n] for n in names if n in position])
        pictures, boxes = read_pictures(part, root / "JPEGImages", size=size)
        splits.append((pictures, boxes))
        labels[split] = part.labels
        info[split] = {"files": np.array(part.files), "original_boxes": part.boxes,
                       "original_size": tuple(int(v) for v in part.sizes[0])}
    return BoxDataset("BCCD blood cell detection", "github.com/Shenggan/BCCD_Dataset (MIT)", True,
                      list(BLOOD_CLASSES), *splits, labels=labels, info=info)


def choose_count_thresholds(found, truth_counts, candidates=np.arange(0.05, 0.95, 0.05)) -> np.ndarray:
    """For each class, the confidence threshold whose counts are closest to the truth (notebook 07).

    ``found`` holds one ``(boxes, labels, scores)`` per picture, ``truth_counts``
    the true counts (pictures, classes). Use validation pictures, never the test ones.
    """
    truth_counts = np.asarray(truth_counts)
    labels, scores = [f[1] for f in found], [f[2] for f in found]

    def error(threshold, k):  # mean relative count error of class k
        counted = count_objects(labels, truth_counts.shape[1], scores, threshold)[:, k]
        return np.mean(np.abs(counted - truth_counts[:, k]) / np.maximum(truth_counts[:, k], 1))

    return np.array([min(candidates, key=lambda t: error(t, k)) for k in range(truth_counts.shape[1])])
