"""Models that find things and draw boxes: the heart box regressor and the centre detector for blood cells
(notebook 07_detection).
"""

from __future__ import annotations

import functools

from radkit import config
from radkit.errors import RadkitError

from radkit.models.saving import _keras
from radkit.models.classifiers import small_cnn, transfer_model
from radkit.models.losses import CENTRE_EXTRA, set_task


@functools.lru_cache(maxsize=None)
def _edge_layer():
    """The Keras layer that turns a feature map into box edges: a score per column (row), averaged (notebook 07)."""
    keras = _keras()

    @keras.saving.register_keras_serializable(package="radkit")
    class BoxEdges(keras.layers.Layer):
        """Four box edges as score-weighted average positions: the ``"edges"`` head of ``box_regressor``.

        Input: a feature map (rows, cols, 4) of scores for x_min, y_min, x_max, y_max.
        x-edges average the scores over rows (one score per column), y-edges over
        columns; a softmax turns the scores into weights, and the edge is the
        weighted average position (0..1). A learned bias per position starts as a
        bump at ``start_box``, so the untrained model answers the average box.
        """

        def __init__(self, start_box=(0.3, 0.4, 0.7, 0.8), spread: float = 0.08, **kwargs):
            super().__init__(**kwargs)
            self.start_box = [float(v) for v in start_box]
            self.spread = float(spread)

        def build(self, input_shape):
            import numpy as np

            rows, cols = int(input_shape[1]), int(input_shape[2])
            self.rows, self.cols = rows, cols
            places = [(np.arange(n) + 0.5) / n for n in (cols, rows, cols, rows)]
            bumps = [-((p - c) ** 2) / (2 * self.spread**2) for p, c in zip(places, self.start_box)]
            for name, values in (("x_bias", np.stack([bumps[0], bumps[2]], -1)),
                                 ("y_bias", np.stack([bumps[1], bumps[3]], -1))):
                setattr(self, name, self.add_weight(name=name, shape=values.shape,
                                                    initializer=keras.initializers.Constant(values.astype("float32"))))

        def call(self, scores):
            ops = keras.ops
            rows, cols = self.rows, self.cols
            x_scores = ops.mean(ops.take(scores, [0, 2], axis=-1), axis=1) + self.x_bias   # (N, cols, 2)
            y_scores = ops.mean(ops.take(scores, [1, 3], axis=-1), axis=2) + self.y_bias   # (N, rows, 2)
            x_places = (ops.arange(cols, dtype="float32") + 0.5) / cols
            y_places = (ops.arange(rows, dtype="float32") + 0.5) / rows
            x = ops.sum(ops.softmax(x_scores, axis=1) * x_places[None, :, None], axis=1)       # (N, 2)
            y = ops.sum(ops.softmax(y_scores, axis=1) * y_places[None, :, None], axis=1)
            return ops.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=-1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 4)

        def get_config(self):
            return {**super().get_config(), "start_box": self.start_box, "spread": self.spread}

    return BoxEdges


def box_regressor(input_shape=(128, 128, 1), base: str = "small_cnn", weights: str | None = "imagenet",
                  trainable: bool = True, dropout: float = 0.2, start_box=None, head: str = "dense",
                  feature_layer: str | None = None, head_width: int = 32):
    """A model that draws one box around one thing (the heart): four numbers out (notebook 07).

    The four outputs are the box's corners ``[x_min, y_min, x_max, y_max]`` as
    fractions of the picture's width and height (0..1), so the same model fits
    any picture size: multiply by the size to get pixels (``predict_boxes``).
    ``start_box`` (fractions, e.g. the average training box) is what the untrained
    model answers for every film, so training starts from the "average box"
    and learns how each film differs from it.
    The features come from the small CNN of notebook 02 or the pretrained
    MobileNetV2 of notebook 04 (``base="mobilenetv2"``); unlike a classifier,
    the head keeps *where* each feature was, because a box is all about where:
    ``head="dense"`` flattens the map into a small dense layer; ``head="edges"``
    scores every column (for the left and right edges) and every row (top and
    bottom) and takes the score-weighted average position, so a heart moved
    on the film moves its box the same way (what notebook 07 uses).
    ``feature_layer`` picks the base's map by layer name (for MobileNetV2,
    ``"block_13_expand_relu"`` is 16 times smaller than the film; the default, the last, 32 times).
    ``head_width``: how many features the edges head mixes from that map before scoring.
    """
    import numpy as np

    keras = _keras()
    layers = keras.layers
    if head not in ("dense", "edges"):
        raise RadkitError(f"head={head!r} is not one box_regressor knows.", "Use head='dense' or head='edges'.")
    if base == "small_cnn":
        trunk = small_cnn(input_shape, filters=(16, 32, 64, 96))
        model_input, feature_map = trunk.input, trunk.get_layer(feature_layer or "bn4").output
    else:
        trunk = transfer_model(input_shape, base=base, weights=weights, trainable=trainable)
        model_input = trunk.input
        feature_map = trunk.get_layer(feature_layer).output if feature_layer else trunk.get_layer("pool").input
    start = np.clip(np.asarray(start_box if start_box is not None else (0.3, 0.4, 0.7, 0.8), np.float32), 0.01, 0.99)
    if head == "edges":
        x = layers.Dropout(dropout, name="box_dropout")(feature_map)
        x = layers.Conv2D(head_width, 3, padding="same", activation="relu", name="box_reduce")(x)
        x = layers.Conv2D(4, 1, name="edge_scores", kernel_initializer="zeros")(x)
        outputs = _edge_layer()(start_box=start.tolist(), name="box")(x)
        return set_task(keras.Model(model_input, outputs, name=f"box_regressor_edges_{trunk.name}"), "boxes")
    x = layers.Conv2D(16, 1, activation="relu", name="box_reduce")(feature_map)
    x = layers.Flatten(name="box_flatten")(x)
    x = layers.Dropout(dropout, name="box_dropout")(x)
    x = layers.Dense(64, activation="relu", name="box_dense")(x)
    outputs = layers.Dense(4, activation="sigmoid", name="box", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(np.log(start / (1 - start))))(x)
    return set_task(keras.Model(model_input, outputs, name=f"box_regressor_{trunk.name}"), "boxes")


def predict_boxes(model, images, shifts=None) -> "np.ndarray":
    """Boxes a ``box_regressor`` draws, in pixels of the pictures given: (N, 4) corners (notebook 07).

    ``shifts``: also look at each film moved a little, and average the boxes (test-time augmentation).
    A list of ``(dx, dy)`` or ``(dx, dy, zoom)``: moves as fractions of the picture (right, down) and a
    zoom (1.1 = 10 % closer); each box drawn is moved back before averaging. The unmoved film always counts.
    Never a left-right flip: a flipped chest film shows a different patient (dextrocardia).
    """
    import numpy as np

    from radkit.data import to_model_input

    x = to_model_input(images)  # 0..255 or 0..1, with or without the channel: the same 0..1 input
    height, width = x.shape[1:3]
    size = np.array([width, height, width, height], dtype=np.float32)
    centre = size / 2
    views = [(0.0, 0.0, 1.0)] + [tuple(float(v) for v in view) + (1.0,) * (3 - len(view)) for view in (shifts or [])]
    drawn = []
    for dx, dy, zoom in views:
        if zoom <= 0:
            raise RadkitError(f"A zoom of {zoom} in shifts cannot be undone.",
                              "Use zooms above 0, such as 0.95 or 1.05.")
        moved = x if (dx, dy, zoom) == (0.0, 0.0, 1.0) else _moved(x, dx * width, dy * height, zoom)
        found = model.predict(moved, verbose=0) * size
        move = np.array([dx * width, dy * height, dx * width, dy * height], dtype=np.float32)
        drawn.append((found - centre - move) / zoom + centre)  # the box on the unmoved film
    boxes = np.mean(drawn, axis=0).astype(np.float32)
    # A box is never inside out: sort each pair of corners.
    return np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)


def _moved(x, dx: float, dy: float, zoom: float):
    """Pictures (N, H, W, C) zoomed about their centre and moved (dx, dy) pixels; edges repeated, as in training
    (the same Keras operation that training's RandomZoom and RandomTranslation layers use)."""
    import numpy as np

    keras = _keras()
    height, width = x.shape[1:3]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # For each output pixel, the input pixel it is read from: undo the move, then the zoom.
    transform = np.array([[1 / zoom, 0, cx - (cx + dx) / zoom, 0, 1 / zoom, cy - (cy + dy) / zoom, 0, 0]], np.float32)
    moved = keras.ops.image.affine_transform(np.asarray(x, np.float32), np.repeat(transform, len(x), axis=0),
                                             interpolation="bilinear", fill_mode="nearest", data_format="channels_last")
    return np.asarray(keras.ops.convert_to_numpy(moved), np.float32)


def refine_boxes(refiner, images, found, margin=0.25) -> "np.ndarray":
    """A second, closer look: each picture cut around the box ``found``, and ``refiner`` draws the box again in the cut.

    ``refiner`` is a ``box_regressor`` trained on such cuts (``boxes.crop_around`` around
    boxes moved by ``boxes.jitter_boxes``); the cut has the refiner's input size, so the heart
    is seen at about twice the detail of the whole film (notebook 07). ``margin``: how much
    wider than the box the cut is (0.25: a quarter of the box on each side); several margins,
    e.g. ``(0.2, 0.25, 0.3)``, look several times and average the boxes. Boxes come back in
    pixels of ``images``.
    """
    import numpy as np

    from radkit import boxes

    size, drawn = int(refiner.input_shape[1]), []
    for each in np.atleast_1d(margin):
        crops, windows = boxes.crop_around(images, found, size, float(each))
        drawn.append(boxes.uncrop_boxes(predict_boxes(refiner, crops), windows, size))
    return np.mean(drawn, axis=0)


CENTRE_STRIDE = 4  # the centre detector's map is 4 times smaller than the picture


def centre_classes(model) -> int:
    """How many classes a ``centre_detector`` finds (its maps minus size and offset)."""
    return int(model.output_shape[-1]) - CENTRE_EXTRA


def centre_detector(input_shape=(120, 160, 1), n_classes: int = 3, width: int = 48, base: str = "small",
                    weights: str | None = "imagenet"):
    """A small detector for many objects per picture: a map of object centres per class, plus box sizes (notebook 07).

    Like a heat map: each cell of the output (one per 4 x 4 pixels) says how
    likely an object's centre of each class is there (channels 0..n_classes-1),
    how wide and tall that object is as fractions of the picture, and where
    inside its 4 x 4 cell the centre lies (the last four channels: a small
    platelet is only a few cells wide, so a centre rounded to its cell would
    miss it). A peak in the map is a found cell; its height is the confidence.
    This is the idea of CenterNet (Zhou et al., 2019), made small.

    ``base="small"``: dilated convolutions let each output cell see about 140
    pixels around it with few weights (a white cell is about 100 pixels wide
    at 320 x 240; seeing less, the map raises two peaks on it). It reads grey
    or colour pictures (``input_shape`` ending in 1 or 3). ``base="mobilenetv2"``: the pretrained
    MobileNetV2 of notebook 04 sees the picture; its maps 16, 8 and 4 times
    smaller than the picture are enlarged and added (what sees far meets what
    sees fine), so one map serves large white cells and small platelets alike.
    Its height and width must be multiples of 16 (for example 240 x 320).
    """
    import math

    keras = _keras()
    layers = keras.layers
    if base == "small":
        inputs = keras.Input(shape=tuple(input_shape), name="image")
        x = inputs
        for i, (filters, dilation) in enumerate(((16, 1), (32, 1), (width, 1), (width, 2), (width, 4), (width, 8),
                                                    (width, 1)), 1):
            x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, activation="relu", name=f"conv{i}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
            if i <= 2:
                x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        name = "centre_detector"
    elif base == "mobilenetv2":
        if input_shape[0] % 16 or input_shape[1] % 16:
            raise RadkitError(f"The MobileNetV2 centre detector needs a height and width that are multiples of 16; "
                              f"got {input_shape[0]} x {input_shape[1]}.",
                              "Load the smears with such a size, for example load_blood_cells(size=(240, 320)).")
        trunk = transfer_model(tuple(input_shape), base="mobilenetv2", weights=weights, trainable=True)
        inputs = trunk.input
        x = None
        for level in ("block_13_expand_relu", "block_6_expand_relu", "block_3_expand_relu"):  # 1/16, 1/8, 1/4
            side = layers.Conv2D(width, 1, activation="relu", name=f"side_{level.split('_')[1]}")(
                trunk.get_layer(level).output)
            x = side if x is None else layers.Add(name=f"add_{level.split('_')[1]}")(
                [layers.UpSampling2D(2, name=f"up_{level.split('_')[1]}")(x), side])
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name="mix")(x)
        x = layers.BatchNormalization(momentum=0.9, name="mix_bn")(x)
        name = f"centre_detector_{trunk.name}"
    else:
        raise RadkitError(f"base={base!r} is not one centre_detector knows.", "Use base='small' or base='mobilenetv2'.")
    prior = -math.log((1 - 0.01) / 0.01)  # start by saying "1 % chance of a centre" everywhere: steadier training
    centres = layers.Conv2D(n_classes, 1, activation="sigmoid", name="centre_map",
                            bias_initializer=keras.initializers.Constant(prior))(x)
    # Sizes start at a tenth of the picture (a typical cell), not half of it: fewer steps to learn them.
    sizes = layers.Conv2D(2, 1, activation="sigmoid", name="size_map",
                          bias_initializer=keras.initializers.Constant(-2.2))(x)
    # Where the centre sits inside its cell (0..1 across, 0..1 down), like CenterNet's offset head.
    offsets = layers.Conv2D(2, 1, activation="sigmoid", name="offset_map")(x)
    outputs = layers.Concatenate(name="centres")([centres, sizes, offsets])
    return set_task(keras.Model(inputs, outputs, name=name), "centres")


def centre_targets(boxes, labels, image_shape, n_classes: int):
    """What a ``centre_detector`` should answer for a batch of pictures with their boxes (TensorFlow; used by train.fit).

    ``boxes`` (N, M, 4) corners in pixels and ``labels`` (N, M), -1 for padding.
    Each object puts a soft peak (a Gaussian as wide as a sixth of the object)
    at its centre in its class's channel; at the centre cell the last four
    channels hold the object's width and height (fractions of the picture) and
    where in the cell its centre lies (fractions of the cell, x then y).
    """
    tf = config.import_tensorflow()
    height, width = image_shape
    rows, cols = height // CENTRE_STRIDE, width // CENTRE_STRIDE
    boxes = tf.cast(boxes, tf.float32)
    labels = tf.cast(labels, tf.int32)  # Keras' augmentation layers hand labels back as floats
    valid = tf.cast(labels >= 0, tf.float32)                               # (N, M)
    centre_x = (boxes[..., 0] + boxes[..., 2]) / 2 / CENTRE_STRIDE
    centre_y = (boxes[..., 1] + boxes[..., 3]) / 2 / CENTRE_STRIDE
    cell_x = tf.clip_by_value(tf.floor(centre_x), 0, cols - 1)
    cell_y = tf.clip_by_value(tf.floor(centre_y), 0, rows - 1)
    box_w = (boxes[..., 2] - boxes[..., 0]) / CENTRE_STRIDE
    box_h = (boxes[..., 3] - boxes[..., 1]) / CENTRE_STRIDE
    sigma = tf.maximum(tf.minimum(box_w, box_h) / 6.0, 0.7)
    grid_y = tf.range(rows, dtype=tf.float32)[None, None, :, None]
    grid_x = tf.range(cols, dtype=tf.float32)[None, None, None, :]
    d2 = (grid_x - cell_x[..., None, None]) ** 2 + (grid_y - cell_y[..., None, None]) ** 2
    peaks = tf.exp(-d2 / (2 * sigma[..., None, None] ** 2)) * valid[..., None, None]      # (N, M, rows, cols)
    one_hot = tf.one_hot(tf.maximum(labels, 0), n_classes) * valid[..., None]            # (N, M, C)
    heat = tf.reduce_max(peaks[..., None] * one_hot[:, :, None, None, :], axis=1)        # (N, rows, cols, C)
    at_centre = tf.cast(d2 < 0.5, tf.float32) * valid[..., None, None]                   # (N, M, rows, cols)
    size_w = tf.reduce_max(at_centre * (box_w * CENTRE_STRIDE / width)[..., None, None], axis=1)
    size_h = tf.reduce_max(at_centre * (box_h * CENTRE_STRIDE / height)[..., None, None], axis=1)
    offset_x = tf.reduce_max(at_centre * (centre_x - cell_x)[..., None, None], axis=1)
    offset_y = tf.reduce_max(at_centre * (centre_y - cell_y)[..., None, None], axis=1)
    extra = [size_w, size_h, tf.clip_by_value(offset_x, 0.0, 1.0), tf.clip_by_value(offset_y, 0.0, 1.0)]
    return tf.concat([heat] + [e[..., None] for e in extra], axis=-1)


def centre_loss(n_classes: int | None = None):
    """The centre detector's loss (``radkit.models.losses.centre_loss``): focal loss on the centre maps, plus size and
    offset errors at centres. It reads the number of classes from the maps, so ``n_classes`` is not needed."""
    from radkit.models import losses

    return losses.centre_loss


def detect(model, images, threshold: float = 0.05, max_objects: int = 200, image_size=None,
           overlap: float = 0.5, flips: bool = False) -> list:
    """Find objects with a ``centre_detector``: one ``(boxes, labels, scores)`` per picture (notebook 07).

    A found object is a local peak of its class's map (higher than its 8
    neighbours) above ``threshold``. A large cell can raise two peaks; of two
    boxes of one class that overlap more than ``overlap`` (IoU), only the more
    confident is kept. ``flips=True`` looks at each picture four ways (as it is,
    mirrored left-right, upside down, both) and averages the four maps: for
    pictures with no left or right, such as a blood smear; never a chest film.
    Boxes are corners in pixels of the pictures given, or of ``image_size``
    (height, width) to map back to the original files.
    """
    import numpy as np

    from radkit.data import to_model_input

    images = np.asarray(images)
    x = to_model_input(images, colour=images.ndim == 4 and images.shape[-1] == 3)  # 0..255 or 0..1: the same input
    maps = _flipped_maps(model, x) if flips else model.predict(x, verbose=0)
    return decode_centres(maps, image_size or x.shape[1:3], threshold, max_objects, overlap)


def _flipped_maps(model, x):
    """A centre detector's maps averaged over the pictures and their three mirror images (each map mirrored back)."""
    import numpy as np

    if x.shape[1] % CENTRE_STRIDE or x.shape[2] % CENTRE_STRIDE:
        raise RadkitError(f"flips=True needs a height and width that are multiples of {CENTRE_STRIDE} "
                          f"(got {x.shape[1]} x {x.shape[2]}): otherwise a mirrored map does not line up.",
                          "Load the pictures at such a size, for example (240, 320), or use flips=False.")
    n_classes, total = centre_classes(model), 0.0
    for flip_rows, flip_cols in ((False, False), (False, True), (True, False), (True, True)):
        seen = x[:, ::-1] if flip_rows else x
        seen = seen[:, :, ::-1] if flip_cols else seen
        maps = model.predict(np.ascontiguousarray(seen), verbose=0)
        if flip_rows:  # mirror the map back; a centre near the top of its cell is now near the bottom
            maps = maps[:, ::-1].copy()
            maps[..., n_classes + 3] = 1 - maps[..., n_classes + 3]
        if flip_cols:
            maps = maps[:, :, ::-1].copy()
            maps[..., n_classes + 2] = 1 - maps[..., n_classes + 2]
        total = total + maps
    return total / 4


def _keep_most_confident(boxes, labels, scores, overlap: float):
    """Positions of the boxes kept when, within each class, a box overlapping a more confident one (IoU > overlap)
    is dropped (non-maximum suppression). ``scores`` are sorted from high to low."""
    import numpy as np

    from radkit.boxes import iou_matrix

    keep = np.ones(len(boxes), bool)
    for label in np.unique(labels):
        same = np.flatnonzero(labels == label)
        overlaps = iou_matrix(boxes[same], boxes[same])
        for i in range(len(same)):
            if keep[same[i]]:
                keep[same[i + 1:][overlaps[i, i + 1:] > overlap]] = False
    return keep


def decode_centres(maps, image_size, threshold: float = 0.05, max_objects: int = 200, overlap: float = 1.0) -> list:
    """Turn a centre detector's maps (N, rows, cols, classes + 4) into ``(boxes, labels, scores)`` per picture.

    ``overlap`` below 1 drops a box that overlaps a more confident box of its class by more than that (IoU).
    """
    import numpy as np
    from scipy import ndimage

    height, width = image_size
    n_classes = maps.shape[-1] - CENTRE_EXTRA
    found = []
    for output in maps:
        heat = output[..., :n_classes]
        peaks = (heat == ndimage.maximum_filter(heat, size=(3, 3, 1))) & (heat >= threshold)
        rows, cols, labels = np.nonzero(peaks)
        scores = heat[rows, cols, labels]
        order = np.argsort(-scores)[:max_objects]
        rows, cols, labels, scores = rows[order], cols[order], labels[order], scores[order]
        cx = (cols + output[rows, cols, n_classes + 2]) / heat.shape[1] * width
        cy = (rows + output[rows, cols, n_classes + 3]) / heat.shape[0] * height
        w, h = output[rows, cols, n_classes] * width, output[rows, cols, n_classes + 1] * height
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32).reshape(-1, 4)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        keep = _keep_most_confident(boxes, labels, scores, overlap) if overlap < 1 else slice(None)
        found.append((boxes[keep], labels[keep].astype(int), scores[keep].astype(np.float32)))
    return found
