"""Masks (notebook 08): Dice and IoU with their edge cases, volume in mL, agreement, outlines,
and the segmentation branch of train.fit (Dice loss, masks moved with their pictures), FCN-8."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import masks, set_seed
from radkit.errors import RadkitError


# Catches a Dice that forgets the factor 2, or divides by the union (that is IoU).
def test_dice_and_iou_by_hand():
    truth = np.zeros((4, 4), int)
    truth[0, :3] = 1          # 3 pixels
    pred = np.zeros((4, 4), int)
    pred[0, 1:] = 1           # 3 pixels, 2 overlap, union 4
    assert masks.dice(truth, pred) == pytest.approx(2 * 2 / 6)
    assert masks.iou(truth, pred) == pytest.approx(2 / 4)


# Catches NaN (0/0) on an empty truth, and a false alarm on an empty truth scoring anything but 0.
def test_edge_cases_are_as_stated():
    empty = np.zeros((5, 5), int)
    some = empty.copy()
    some[2, 2] = 1
    assert masks.dice(empty, empty) == 1.0 and masks.iou(empty, empty) == 1.0
    assert masks.dice(empty, some) == 0.0 and masks.iou(empty, some) == 0.0
    assert masks.dice(some, empty) == 0.0


# Catches scoring structure 1 when structure 2 was asked (per-structure Dice must look at its own label).
def test_dice_is_per_structure():
    truth = np.array([[1, 1, 2, 2]])
    pred = np.array([[1, 1, 1, 2]])
    assert masks.dice(truth, pred, 1) == pytest.approx(2 * 2 / 5)
    assert masks.dice(truth, pred, 2) == pytest.approx(2 * 1 / 3)


# Catches comparing masks of different shapes by broadcasting instead of refusing.
def test_shape_mismatch_is_refused():
    with pytest.raises(RadkitError, match="shape"):
        masks.dice(np.zeros((3, 3)), np.zeros((3, 4)))


# Catches a volume that ignores the voxel size, or forgets mm³ -> mL (/1000).
def test_volume_ml_uses_spacing():
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[:5, :4, :2] = 2      # 40 voxels
    assert masks.volume_ml(mask, (1, 1, 1), label=2) == pytest.approx(0.040)
    assert masks.volume_ml(mask, (2.5, 1.25, 1.25), label=2) == pytest.approx(40 * 3.90625 / 1000)
    assert masks.volume_ml(mask, (1, 1, 1), label=1) == 0.0
    with pytest.raises(RadkitError, match="spacing"):
        masks.volume_ml(mask, (1, 1))


# Catches limits of agreement computed with the wrong SD or sign (model - truth is the convention).
def test_agreement_bland_altman():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    model = truth + np.array([0.1, 0.3, 0.1, 0.3])
    a = masks.agreement(model, truth)
    assert a["mean_difference"] == pytest.approx(0.2)
    sd = np.std([0.1, 0.3, 0.1, 0.3], ddof=1)
    assert a["upper_limit"] == pytest.approx(0.2 + 1.96 * sd)
    assert a["lower_limit"] == pytest.approx(0.2 - 1.96 * sd)
    with pytest.raises(RadkitError):
        masks.agreement([1.0], [1.0])


# Catches a table that pairs a prediction with another patient's truth or drops a structure.
def test_scores_table_rows_per_scan_and_structure():
    truth = np.zeros((2, 3, 3), np.uint8)
    truth[0, 0, 0], truth[1, 1, 1] = 1, 2
    perfect, empty = truth.copy(), np.zeros_like(truth)
    table = masks.scores_table([truth, truth], [perfect, empty], [(1, 1, 1)] * 2, ("bg", "a", "b"), ids=["p1", "p2"])
    assert list(table["scan"]) == ["p1", "p1", "p2", "p2"]
    assert list(table["structure"]) == ["a", "b", "a", "b"]
    assert list(table["dice"]) == [1.0, 1.0, 0.0, 0.0]
    assert table["true_ml"][0] == pytest.approx(0.001) and table["model_ml"][2] == 0.0


# Catches keep_largest dropping the structure itself, mixing up structures, or keeping a stray speck.
def test_keep_largest_removes_specks_per_structure():
    mask = np.zeros((6, 8, 8), np.uint8)
    mask[1:4, 1:4, 1:4] = 1       # anterior: 27 voxels
    mask[5, 7, 7] = 1             # a stray anterior speck far away
    mask[1:4, 4:7, 1:3] = 2       # posterior touches anterior: both stay
    mask[5, 0, 7] = 2             # a stray posterior speck
    mask[4, 4, 4] = 1             # a speck touching the anterior piece only by a corner: kept (26 neighbours)
    kept = masks.keep_largest(mask)
    expected = mask.copy()
    expected[5, 7, 7] = expected[5, 0, 7] = 0
    assert np.array_equal(kept, expected)
    assert masks.keep_largest(np.zeros((3, 3, 3), np.uint8)).sum() == 0  # nothing drawn: nothing kept


# Catches an outline that is the whole filled mask, or misses the border.
def test_outline_is_the_border_only():
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    border = masks.outline(mask)
    assert border.sum() == 16 and not border[3, 3] and border[1, 3]
    rgb = masks.overlay_rgb(np.random.default_rng(0).random((7, 7)), truth=mask, pred=mask.astype(int))
    assert rgb.shape == (7, 7, 3) and np.allclose(rgb[1, 3], masks.TRUTH_COLOUR) and 0 <= rgb.min() <= rgb.max() <= 1


# ---------------------------------------------------------------- training with masks (radkit.train, radkit.models)

@pytest.fixture(scope="module")
def squares():
    """Bright squares on a dark background, each with its mask: 1 inside the square."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.2, 0.05, (64, 32, 32)).astype(np.float32)
    y = np.zeros((64, 32, 32), np.uint8)
    for i in range(64):
        r, c = rng.integers(4, 20, 2)
        x[i, r:r + 8, c:c + 8] += 0.6
        y[i, r:r + 8, c:c + 8] = 1
    return np.clip(x, 0, 1)[..., None], y


# Catches train.fit refusing 2.5-D input (neighbouring slices as channels), or accepting slices that do not
# match what the model reads (a plain message, not a Keras shape error).
def test_fit_takes_neighbouring_slices_as_channels(squares):
    from radkit import models, train

    x, y = squares
    x3 = np.concatenate([x, x, x], axis=-1)
    set_seed(0)
    model = models.unet((32, 32, 3), n_classes=2, base_filters=4, depth=2)
    history = train.fit(model, (x3, y), (x3[:16], y[:16]), epochs=1, batch_size=16, verbose=False)
    assert len(history.history["loss"]) == 1
    with pytest.raises(RadkitError, match="reads 1 slice"):
        train.fit(models.unet((32, 32, 1), n_classes=2, base_filters=4, depth=2), (x3, y), epochs=1, verbose=False)
    with pytest.raises(RadkitError, match="0 to 1"):
        train.fit(model, (x3 * 255, y), epochs=1, verbose=False)


# Catches augmentation that moves the picture but not its mask (the mask must follow the bright square).
def test_augmentation_moves_mask_with_picture(squares):
    from radkit import train

    x, y = squares
    ds = train.make_dataset(x, y, batch_size=64, augment={"rotation": 20, "shift": 0.15, "brightness": 0.0,
                                                          "contrast": 0.0})
    images, moved = next(iter(ds))
    images, moved = images.numpy()[..., 0], moved.numpy()[..., 0]
    assert not np.array_equal(moved, y)                       # it did move
    assert set(np.unique(moved)) <= {0.0, 1.0}                # still whole labels (nearest neighbour)
    inside = images[moved == 1].mean()
    outside = images[moved == 0].mean()
    assert inside > outside + 0.4                            # the mask still covers the bright square


# Catches a mask whose shape differs from its pictures slipping through to a TensorFlow error.
def test_mask_shape_mismatch_is_a_plain_error(squares):
    from radkit import models, train

    x, y = squares
    model = models.unet((32, 32, 1), n_classes=2, base_filters=4, depth=2)
    with pytest.raises(RadkitError, match="same size"):
        train.fit(model, (x, y[:, :16]), epochs=1, verbose=False)


# Catches a Dice loss that does not reward overlap: a perfect answer must score lower than all-background.
def test_dice_loss_prefers_the_right_outline(squares):
    import keras

    from radkit import train

    _, y = squares
    truth = y[:8, ..., None].astype("float32")
    perfect = keras.ops.one_hot(y[:8].astype("int32"), 2) * 0.98 + 0.01
    background = keras.ops.one_hot(np.zeros_like(y[:8], dtype="int32"), 2) * 0.98 + 0.01
    assert float(train.dice_loss(truth, perfect)) < float(train.dice_loss(truth, background)) - 0.5
    assert float(train.dice_metric(truth, perfect)) == pytest.approx(1.0)
    assert float(train.dice_metric(truth, background)) == pytest.approx(0.0, abs=1e-3)


# Catches the segmentation branch not learning (wrong loss, labels not reaching the model): Dice must rise well above 0.
def test_unet_learns_squares(squares):
    from radkit import models, train

    x, y = squares
    set_seed(0)  # the starting weights too, whatever ran before
    model = models.unet((32, 32, 1), n_classes=2, base_filters=8, depth=2)
    history = train.fit(model, (x[:48], y[:48]), (x[48:], y[48:]), epochs=10, batch_size=8, augment=False,
                        learning_rate=3e-3, verbose=False)
    assert "val_dice" in history.history and max(history.history["val_dice"]) > 0.6


# Catches an FCN-8 whose output is not full size, or that accepts sizes it cannot fuse.
def test_fcn8_shape_and_size_check():
    from radkit import models

    model = models.fcn8((64, 64, 1), n_classes=3, base_filters=4)
    assert model.output_shape == (None, 64, 64, 3)
    assert model.get_layer("fuse8") is not None and model.get_layer("fuse16") is not None
    with pytest.raises(RadkitError, match="multiples of 32"):
        models.fcn8((48, 64, 1))
