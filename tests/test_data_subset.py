"""ImageDataset.subset: random, shuffled, label shares kept or balanced, extras cut with their films;
and load_pneumonia's fast mode (notebook 02)."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import data
from radkit.errors import RadkitError


def sorted_dataset(n_normal=30, n_sick=270, with_extras=True):
    """A dataset sorted by label, as the shared PneumoniaMNIST training file is; image i is filled with i."""
    def split(n0, n1):
        labels = np.array([1] * n1 + [0] * n0)
        images = (np.arange(len(labels))[:, None, None] * np.ones((1, 4, 4))).astype(np.int64)
        return images, labels
    parts = [split(n_normal, n_sick), split(10, 90), split(20, 80)]
    extras = {}
    if with_extras:
        for name, (images, _) in zip(("train", "val", "test"), parts):
            extras[f"{name}_heart_boxes"] = np.arange(len(images))[:, None] * np.ones((1, 4))
            extras[f"{name}_lung_masks"] = [np.full((4, 4), i) for i in range(len(images))]
        extras["note"] = "dataset-wide, not per image"
    return data.ImageDataset("toy", "made in a test", False, ["normal", "pneumonia"], *parts, extras=extras)


# Catches the bug in COURSE.md's last known fact: subset() passed extras through unsliced, pairing heart
# boxes and lung masks with the wrong films.
def test_subset_cuts_extras_with_their_films():
    small = sorted_dataset().subset(train=40, val=25, test=30, seed=3)
    for split in ("train", "val", "test"):
        images, _ = getattr(small, split)
        boxes, masks = small.extras[f"{split}_heart_boxes"], small.extras[f"{split}_lung_masks"]
        assert len(boxes) == len(masks) == len(images)
        for image, box, mask in zip(images, boxes, masks):
            assert box[0] == image[0, 0] and mask[0, 0] == image[0, 0]
    assert small.extras["note"] == "dataset-wide, not per image"


# Catches a subset that keeps the file's order (a sorted file then previews only one label) or changes the
# share of each label (fast mode would then teach on differently balanced data than full mode).
def test_subset_is_shuffled_and_keeps_each_labels_share():
    small = sorted_dataset().subset(train=100, seed=0)
    images, labels = small.train
    assert len(labels) == 100 and np.sum(labels == 0) == 10
    assert set(labels[:16]) == {0, 1}
    assert len(set(images[:, 0, 0])) == 100  # no film twice
    assert small.val[0].shape == (100, 4, 4)  # a split not asked for stays whole


# Catches balanced=... being ignored or unbalanced, and a silent typo in a split name.
def test_subset_balanced():
    toy = sorted_dataset()
    small = toy.subset(train=40, test=50, balanced="train")
    assert np.bincount(small.train[1]).tolist() == [20, 20]
    assert np.bincount(small.test[1]).tolist() == [10, 40]
    whole = toy.subset(balanced=True)  # as many as the rarest label allows
    assert np.bincount(whole.train[1]).tolist() == [30, 30] and np.bincount(whole.val[1]).tolist() == [10, 10]
    with pytest.raises(RadkitError):
        toy.subset(train=10, balanced="training")


# Catches the degenerate fast mode of issue 9: a subset of a file sorted by label that is nearly all one label.
def test_fast_mode_pneumonia_is_random_and_keeps_both_labels(shared_data, data_dir, monkeypatch):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    monkeypatch.setenv("RADKIT_FAST", "1")
    fast = data.load_pneumonia(size=28)
    full = data.load_medmnist(shared_data / "pneumoniamnist" / "pneumoniamnist.npz")
    for split in ("train", "val", "test"):
        labels, all_labels = getattr(fast, split)[1], getattr(full, split)[1]
        assert abs(np.mean(labels) - np.mean(all_labels)) < 0.01
        assert set(labels[:16]) == {0, 1}
    assert len(fast.train[1]) >= 1000
