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

from radkit.boxes.formats import (FORMATS, convert, check_boxes, clip, area, iou_matrix, iou, BoxTable,
                                 load_boxes, save_boxes)  # noqa: F401
from radkit.boxes.measure import (resize_with_boxes, crop_around, uncrop_boxes, jitter_boxes, read_pictures,
                                 draw_boxes, box_of_mask,
                                 cardiothoracic_ratio, estimate_thorax_boxes, evaluate_detections, plot_precision_recall,
                                 count_objects, confidence_sums, count_errors, pad)  # noqa: F401
from radkit.boxes.datasets import (BoxDataset, load_heart_boxes, BLOOD_CLASSES, phantom_smears,
                                 load_blood_cells, choose_count_thresholds)  # noqa: F401
