"""Tests for the detectors of notebook 07 (radkit.models) and train.fit with boxes."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import RadkitError, boxes, models, set_seed, train

keras = pytest.importorskip("keras")


# Catches a regressor whose untrained answer is not the start box, or pixels scaled by the wrong side.
def test_box_regressor_starts_from_the_start_box():
    model = models.box_regressor((32, 48, 1), start_box=(0.25, 0.5, 0.75, 0.9))
    assert model.output_shape == (None, 4) and model.layers[-1].name == "box"
    found = models.predict_boxes(model, np.random.default_rng(0).integers(0, 255, (2, 32, 48), dtype=np.uint8))
    np.testing.assert_allclose(found, [[12, 16, 36, 28.8]] * 2, atol=0.05)


# Catches augmentation that moves the picture but not its box (or the box but not the picture), and a
# left-right flip sneaking into chest-film training.
def test_boxes_move_with_their_picture():
    images = np.zeros((8, 64, 64), np.uint8)
    images[:, 10:30, 20:50] = 255          # a bright block whose box is [20, 10, 50, 30]
    truth = np.tile(np.array([[20, 10, 50, 30]], np.float32), (8, 1))
    model = models.box_regressor((64, 64, 1))
    data = train._box_dataset(train._as_input(images, "t"), truth, model, 8, augment={"rotation": 0, "zoom": 0.2,
                              "shift": 0.15, "brightness": 0, "contrast": 0}, seed=3)
    moved_images, moved_boxes = next(iter(data))
    assert not np.allclose(moved_boxes.numpy() * 64, truth)   # it really moved
    for picture, box in zip(moved_images.numpy()[..., 0], moved_boxes.numpy() * 64):
        bright = boxes.box_of_mask(picture > 0.5)
        assert boxes.iou(bright, box) > 0.85
    still = train._box_dataset(train._as_input(images, "t"), truth, model, 8, augment={
        "rotation": 0, "zoom": 0, "shift": 0, "brightness": 0, "contrast": 0}, seed=3)
    np.testing.assert_allclose(next(iter(still))[1].numpy() * 64, truth, atol=1e-3)  # no flip for a chest film


# Catches fit's default 8-degree turn reaching the boxes: Keras turns a box by its corners, so the box of a round
# thing (a heart, a cell) grows around it (IoU with the disc's own box down to about 0.8). Without a turn asked
# for, boxes stay tight.
def test_boxes_are_not_turned_unless_asked():
    y, x = np.mgrid[0:64, 0:64]
    images = np.tile(((x - 32) ** 2 + (y - 32) ** 2 <= 20**2).astype(np.uint8) * 255, (16, 1, 1))   # a disc
    truth = np.tile(boxes.box_of_mask(images[0] > 0).astype(np.float32), (16, 1))
    model = models.box_regressor((64, 64, 1))
    for augment in (True, {"shift": 0.1}):
        moved_images, moved_boxes = next(iter(train._box_dataset(train._as_input(images, "t"), truth, model, 16,
                                                                 augment=augment, seed=3)))
        for picture, box in zip(moved_images.numpy()[..., 0], moved_boxes.numpy() * 64):
            assert boxes.iou(boxes.box_of_mask(picture > 0.5), box) > 0.9


# Catches centre maps and their decoding disagreeing (wrong cell, wrong size, swapped width and height, the
# centre rounded to its 4 x 4 cell: a 10-pixel platelet 2 pixels off has IoU < 0.5).
def test_centre_targets_decode_back_to_the_boxes():
    truth = np.array([[[8, 12, 40, 28], [60, 30, 70, 50]]], np.float32)   # (1 picture, 2 boxes)
    labels = np.array([[0, 2]], np.int32)
    maps = models.centre_targets(truth, labels, (64, 96), n_classes=3).numpy()
    assert maps.shape == (1, 16, 24, 3 + models.CENTRE_EXTRA) and maps[..., :3].max() == pytest.approx(1.0)
    found_boxes, found_labels, scores = models.decode_centres(maps, (64, 96), threshold=0.99)[0]
    assert sorted(found_labels.tolist()) == [0, 2]
    for box, label in zip(truth[0], labels[0]):
        # The offset channels put the centre back where it was inside its 4 x 4 cell.
        np.testing.assert_allclose(found_boxes[found_labels == label][0], box, atol=1e-3)


# Catches fit accepting boxes that do not match the pictures, instead of saying so.
def test_fit_refuses_wrong_boxes():
    model = models.box_regressor((32, 32, 1))
    with pytest.raises(RadkitError, match="one box per picture|shape"):
        train.fit(model, (np.zeros((4, 32, 32), np.uint8), np.zeros((3, 4))), epochs=1, verbose=False)
    with pytest.raises(RadkitError, match="zero or negative"):
        train.fit(model, (np.zeros((2, 32, 32), np.uint8), np.array([[5, 5, 5, 9], [1, 1, 3, 3.0]])), epochs=1,
                  verbose=False)


# The lesson of notebook 07 in small: a trained regressor beats always answering the average box.
def test_trained_regressor_beats_the_average_box():
    data = boxes.load_heart_boxes(48, source="phantom")
    set_seed(0)
    start = (data.train[1] / 48).mean(axis=0)
    model = models.box_regressor((48, 48, 1), start_box=start)
    train.fit(model, data.train, data.val, epochs=10, batch_size=32, learning_rate=3e-3, verbose=False)
    trained = boxes.iou(models.predict_boxes(model, data.test[0]), data.test[1]).mean()
    average = boxes.iou(np.tile(start * 48, (len(data.test[1]), 1)), data.test[1]).mean()
    assert trained > average + 0.02


# A centre detector learns on practice smears within a few epochs: mAP well above nothing found.
def test_centre_detector_learns_cells():
    data = boxes.load_blood_cells(size=(120, 160), source="phantom")
    assert data.train[0].shape[1:] == (120, 160, 3)   # smears come in colour
    set_seed(0)
    model = models.centre_detector(data.train[0].shape[1:], 3)
    train.fit(model, (data.train[0], boxes.pad(data.train[1], data.labels["train"])), epochs=8, batch_size=16,
              augment={"flip": True}, learning_rate=3e-3, verbose=False)
    found = models.detect(model, data.test[0])
    result = boxes.evaluate_detections(list(zip(data.test[1], data.labels["test"])), found, boxes.BLOOD_CLASSES)
    assert result["AP"]["RBC"] > 0.3


# Catches an "edges" head whose untrained answer is not the start box (a bias bump in the wrong place, or x and y
# swapped), and one that cannot be saved and loaded (a custom layer Keras does not know by name).
def test_edges_head_starts_from_the_start_box_and_survives_saving(tmp_path):
    start = (0.2, 0.35, 0.7, 0.85)
    model = models.box_regressor((64, 64, 1), start_box=start, head="edges")
    pictures = np.random.default_rng(0).integers(0, 255, (2, 64, 64), dtype=np.uint8)
    found = models.predict_boxes(model, pictures)
    np.testing.assert_allclose(found, [np.array(start) * 64] * 2, atol=2.0)
    path = models.save_model(model, tmp_path / "edges.keras")
    np.testing.assert_allclose(models.predict_boxes(models.load_model(path), pictures), found, atol=1e-4)


# Catches head_width not reaching the edges head (the benchmark's --heart-head-width would then measure nothing),
# and a wider head that no longer starts from the start box.
def test_edges_head_width_is_the_mixing_layer_width():
    start = (0.2, 0.35, 0.7, 0.85)
    model = models.box_regressor((64, 64, 1), start_box=start, head="edges", head_width=8)
    assert model.get_layer("box_reduce").filters == 8
    found = models.predict_boxes(model, np.random.default_rng(0).integers(0, 255, (2, 64, 64), dtype=np.uint8))
    np.testing.assert_allclose(found, [np.array(start) * 64] * 2, atol=2.0)


# Catches an "edges" head that ignores where things are: trained on a bright block placed anywhere, it must
# follow the block (a head that learned only the average box would not), on blocks it has never seen.
def test_edges_head_follows_a_moving_object():
    rng = np.random.default_rng(1)
    pictures, truth = np.zeros((160, 48, 48), np.uint8), []
    for picture in pictures:
        x, y = rng.integers(2, 26, 2)
        picture[y:y + 20, x:x + 20] = 220
        truth.append([x, y, x + 20, y + 20])
    truth = np.array(truth, np.float32)
    set_seed(0)
    model = models.box_regressor((48, 48, 1), start_box=truth[:120].mean(axis=0) / 48, head="edges")
    train.fit(model, (pictures[:120], truth[:120]), epochs=15, batch_size=16, learning_rate=3e-3, augment=False,
              verbose=False)
    ious = boxes.iou(models.predict_boxes(model, pictures[120:]), truth[120:])
    average = boxes.iou(np.tile(truth[:120].mean(axis=0), (40, 1)), truth[120:])
    assert ious.mean() > 0.6 and ious.mean() > average.mean() + 0.2, (ious.mean(), average.mean())


# Catches a MobileNetV2 centre detector whose map is not 4 times smaller than the picture (the targets assume it)
# and a picture size it cannot divide, accepted silently.
def test_mobilenet_centre_detector_map_matches_the_targets():
    model = models.centre_detector((64, 96, 1), n_classes=3, base="mobilenetv2", weights=None)
    assert model.output_shape == (None, 16, 24, 3 + models.CENTRE_EXTRA)
    with pytest.raises(RadkitError, match="multiples of 16"):
        models.centre_detector((120, 160, 1), base="mobilenetv2", weights=None)


# Catches a large cell counted twice: two peaks of one class whose boxes overlap are one cell (the more confident
# box is kept), while touching cells of one class and overlapping cells of two classes all stay.
def test_decoding_keeps_one_box_per_overlapping_pair_of_one_class():
    maps = np.zeros((1, 16, 24, 3 + models.CENTRE_EXTRA), np.float32)
    maps[..., 3:5] = 0.5                        # every box 48 x 32 pixels (half the 96 x 64 picture)
    maps[0, 8, 8, 1], maps[0, 8, 10, 1] = 0.9, 0.6  # one white cell with two peaks 8 pixels apart (IoU 0.71)
    maps[0, 8, 8, 0] = 0.8                      # a red cell right over it: another class, kept
    maps[0, 2, 20, 0], maps[0, 8, 20, 0] = 0.7, 0.7  # two red cells 24 pixels apart (IoU 0.14): both kept
    found_boxes, labels, scores = models.decode_centres(maps, (64, 96), threshold=0.5, overlap=0.5)[0]
    assert sorted(labels.tolist()) == [0, 0, 0, 1]
    assert scores[labels == 1].tolist() == [pytest.approx(0.9)]
    everything = models.decode_centres(maps, (64, 96), threshold=0.5, overlap=1.0)[0]
    assert sorted(everything[1].tolist()) == [0, 0, 0, 1, 1]


# Catches colour smears turned grey on the way into the detector (or refused by train.fit), and a colour
# picture slipping into a grey classifier unannounced.
def test_centre_detector_reads_colour_smears():
    data = boxes.load_blood_cells(size=(64, 96), source="phantom")
    pictures = data.train[0][:8]
    assert pictures.shape == (8, 64, 96, 3) and pictures.dtype == np.uint8
    assert np.abs(pictures[..., 0].astype(int) - pictures[..., 2]).mean() > 10   # really colour, not grey x 3
    model = models.centre_detector((64, 96, 3), 3)
    train.fit(model, (pictures, boxes.pad(data.train[1][:8], data.labels["train"][:8])), epochs=1, batch_size=4,
              verbose=False)
    assert len(models.detect(model, pictures)) == 8
    grey = boxes.load_blood_cells(size=(64, 96), source="phantom", colour=False)
    assert grey.train[0].shape == (len(grey.train[0]), 64, 96)
    with pytest.raises(RadkitError, match="reads grey pictures, but the training images are colour"):
        train.fit(models.centre_detector((64, 96, 1), 3), (pictures, boxes.pad(data.train[1][:8],
                  data.labels["train"][:8])), epochs=1, verbose=False)
    with pytest.raises(RadkitError, match="colour pictures"):
        train.fit(models.small_cnn((64, 96, 1)), (pictures, np.zeros(8, int)), epochs=1, verbose=False)


# Catches flip averaging that mirrors the maps back wrongly (forgotten, or the centre offsets left unmirrored):
# then the boxes found on a mirrored smear are not the mirror of those found on the smear. An untrained detector
# is enough: its maps are arbitrary, but averaging over the four flips must make them mirror-symmetric.
def test_flip_averaged_detection_mirrors_with_the_picture():
    pictures = np.random.default_rng(0).integers(0, 255, (1, 32, 48, 3), dtype=np.uint8)
    set_seed(0)
    model = models.centre_detector((32, 48, 3), 3)
    found = models.detect(model, pictures, threshold=0.0, flips=True, overlap=1.0)[0]
    mirrored = models.detect(model, pictures[:, :, ::-1], threshold=0.0, flips=True, overlap=1.0)[0]
    assert len(found[0]) > 10 and len(found[0]) == len(mirrored[0])
    back = mirrored[0][:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [48, 0, 48, 0]   # mirror the boxes back
    def ordered(b, labels):  # boxes sorted by class, then position
        rows = np.column_stack([labels, np.asarray(b, np.float64)])
        return rows[np.lexsort(np.round(rows[:, ::-1], 1).T)]
    np.testing.assert_allclose(ordered(back, mirrored[1]), ordered(found[0], found[1]), atol=1e-3)
    with pytest.raises(RadkitError, match="multiples of 4"):
        models.detect(models.centre_detector((30, 48, 3), 3), pictures[:, :30], flips=True)


# Catches a second way into the detectors: pictures already scaled to 0..1 (or without the channel) being fed to
# the model as they are, or scaled twice, instead of through the same to_model_input as 0..255 pictures.
def test_detectors_read_0_to_1_pictures_as_they_read_0_to_255():
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 255, (2, 32, 48), dtype=np.uint8)
    regressor = models.box_regressor((32, 48, 1), head="edges")
    regressor.get_layer("edge_scores").set_weights([rng.normal(size=w.shape).astype(np.float32)
                                                    for w in regressor.get_layer("edge_scores").get_weights()])
    drawn = models.predict_boxes(regressor, grey)
    np.testing.assert_allclose(models.predict_boxes(regressor, grey / 255.0), drawn, atol=1e-3)
    np.testing.assert_allclose(models.predict_boxes(regressor, (grey / 255.0)[..., None]), drawn, atol=1e-3)
    set_seed(2)
    smears = rng.integers(0, 255, (2, 32, 48, 3), dtype=np.uint8)
    detector = models.centre_detector((32, 48, 3), 3)
    found = models.detect(detector, smears, threshold=0.0, max_objects=5)
    again = models.detect(detector, smears / 255.0, threshold=0.0, max_objects=5)
    for (boxes_a, labels_a, scores_a), (boxes_b, labels_b, scores_b) in zip(found, again):
        assert len(boxes_a) == 5 and np.array_equal(labels_a, labels_b)
        np.testing.assert_allclose(boxes_a, boxes_b, atol=1e-2)
        np.testing.assert_allclose(scores_a, scores_b, atol=1e-4)


# Catches a closer look that maps boxes back wrongly (scale or offset of the cut, width and height swapped) or
# fails near the film's edge: a refiner that answers "the box fills the middle of the cut" must give back the
# box it was cut around, and the bright block must sit where crop_around says its box is.
def test_refined_boxes_come_back_in_the_films_pixels():
    films = np.zeros((2, 60, 80), np.uint8)
    films[0, 10:30, 20:60] = 255                               # box [20, 10, 60, 30]
    films[1, 0:24, 50:80] = 255                                # box [50, 0, 80, 24], at the corner: the cut overhangs
    truth = np.array([[20, 10, 60, 30], [50, 0, 80, 24]], np.float32)
    crops, windows, inside = boxes.crop_around(films, truth, 48, margin=0.25, boxes=truth)
    assert crops.shape == (2, 48, 48)
    np.testing.assert_allclose(inside, [[8, 8, 40, 40]] * 2, atol=0.6)      # margin 0.25: the box is 2/3 of the cut
    for crop, (x0, y0, x1, y1) in zip(crops, inside.round().astype(int)):
        assert crop[y0 + 2:y1 - 2, x0 + 2:x1 - 2].min() > 200 and crop[:, :x0 - 2].max() < 50
    np.testing.assert_allclose(boxes.uncrop_boxes(inside, windows, 48), truth, atol=0.6)
    refiner = models.box_regressor((48, 48, 1), start_box=(1 / 6, 1 / 6, 5 / 6, 5 / 6))
    np.testing.assert_allclose(models.refine_boxes(refiner, films, truth, margin=0.25), truth, atol=0.6)
    which, moved = boxes.jitter_boxes(truth, share=0.05, copies=3, seed=1)
    assert which.tolist() == [0, 0, 0, 1, 1, 1] and 0 < np.abs(moved - truth[which]).mean() < 3
    assert boxes.crop_around(films[:1], [[30, 20, 30, 20]], 8, margin=0)[0].shape == (1, 8, 8)   # a zero-size box
    with pytest.raises(RadkitError, match="2 pictures but 1 boxes"):
        boxes.crop_around(films, truth[:1], 48)


def _bright_box_finder(height: int, width: int):
    """A Keras model that answers the box of the bright pixels (fractions): a perfect 'regressor' for tests."""
    ops = keras.ops
    inputs = keras.Input((height, width, 1))

    def find(x):
        columns = ops.cast(ops.max(x[..., 0], axis=1) > 0.5, "float32")   # (N, width): any bright pixel there
        rows = ops.cast(ops.max(x[..., 0], axis=2) > 0.5, "float32")
        cols_at, rows_at = ops.arange(width, dtype="float32"), ops.arange(height, dtype="float32")
        x_min = ops.min(ops.where(columns > 0, cols_at, width), axis=1)
        x_max = ops.max(ops.where(columns > 0, cols_at + 1, 0.0), axis=1)
        y_min = ops.min(ops.where(rows > 0, rows_at, height), axis=1)
        y_max = ops.max(ops.where(rows > 0, rows_at + 1, 0.0), axis=1)
        return ops.stack([x_min / width, y_min / height, x_max / width, y_max / height], axis=-1)

    return keras.Model(inputs, keras.layers.Lambda(find, output_shape=(4,))(inputs))


# Catches test-time shifts whose boxes are not moved back (or moved back the wrong way, or zoomed back about the
# wrong point) before averaging: a perfect box finder must still give the true box, to within a pixel or two.
# Also catches films that are not really moved (the boxes of a finder that sees moved films differ from the truth).
def test_shifted_views_are_mapped_back_before_averaging():
    pictures = np.zeros((2, 48, 64), np.uint8)
    pictures[0, 10:30, 20:44] = 255
    pictures[1, 16:40, 8:30] = 255
    truth = np.array([[20, 10, 44, 30], [8, 16, 30, 40]], np.float32)
    finder = _bright_box_finder(48, 64)
    np.testing.assert_allclose(models.predict_boxes(finder, pictures), truth, atol=0.01)
    moved = finder.predict(models.detection._moved(pictures[..., None] / 255.0, 6.0, -4.0, 1.0), verbose=0)
    np.testing.assert_allclose(moved * [64, 48, 64, 48], truth + [6, -4, 6, -4], atol=1.0)  # the film really moves
    for views in ([(0.1, 0.0)], [(0.0, -0.125)], [(0.0, 0.0, 1.25)], [(0.0, 0.0, 0.8)],
                  [(0.05, 0.05), (-0.05, 0.05), (0.0, 0.0, 1.1)]):
        np.testing.assert_allclose(models.predict_boxes(finder, pictures, shifts=views), truth, atol=1.5,
                                   err_msg=str(views))
    with pytest.raises(RadkitError, match="zoom"):
        models.predict_boxes(finder, pictures, shifts=[(0.0, 0.0, 0.0)])
