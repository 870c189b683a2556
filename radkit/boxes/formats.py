"""Box formats and their files: one format inside RadKit, named converters, IoU, one loader (notebook 07).

See ``radkit.boxes`` for the format written down once.
"""

from __future__ import annotations

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


def picture_path(folder, name) -> Path:
    """Where picture ``name`` is in ``folder``: the name itself, or the same film saved as PNG or JPEG.

    NIH lists its films as PNG; copies re-encoded as JPEG keep the name otherwise (notebook 07).
    """
    path = Path(folder) / name
    if path.is_file():
        return path
    return next((p for p in (path.with_suffix(s) for s in (".png", ".jpg", ".jpeg")) if p.is_file()), path)


def _sizes_from(collector: _Collector, images, image_size, source: str) -> None:
    """Fill in each picture's size from ``image_size`` or from the picture files in ``images``."""
    for name, entry in collector.pictures.items():
        if entry["size"] is not None:
            continue
        if images is not None:
            path = picture_path(images, name)
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
        absent = [name for name in table.files if not picture_path(images, name).is_file()]
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


