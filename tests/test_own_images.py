"""Your own folder: train_folder chooses for the folder it is given, says why, and judges on unseen patients."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import evaluate
from radkit.data import folder_files, load_image_folder
from radkit.errors import RadkitError
from radkit.own_images import TRANSFER_MIN_TRAIN, TRANSFER_SIZE, _probabilities, choose_recipe, train_folder


def write_kaggle_folder(root, side: int = 28, per_label: int = 24, seed: int = 0):
    """A tiny folder in the Kaggle chest X-ray layout: dark films NORMAL, films with a bright patch PNEUMONIA."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, first in (("train", 1), ("test", 500)):
        for label, name in enumerate(("NORMAL", "PNEUMONIA")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_label):
                film = rng.integers(0, 90, (side, side)).astype(np.uint8)
                if label:
                    film[side // 4: side // 2, side // 4: 3 * side // 4] += 120
                patient = first + i // 2  # two films per patient
                file = (f"person{patient}_bacteria_{i}.png" if label else f"IM-{patient:04d}-{i % 2 + 1:04d}.png")
                Image.fromarray(film).save(folder / file)
    return root


# Catches the own-folder path using one recipe whatever the folder: a big folder of large films must get the
# pretrained network at its input size, a small or low-resolution folder the small CNN at 64 px,
# and missing weights must not pick a network that would start from random weights.
@pytest.mark.parametrize("side, n_train, weights, model, size", [
    (1024, 4400, True, "mobilenetv2", TRANSFER_SIZE),
    (1024, TRANSFER_MIN_TRAIN - 1, True, "small_cnn", 64),
    (28, 4400, True, "small_cnn", 64),
    (48, 4400, True, "small_cnn", 64),
    (1024, 4400, False, "small_cnn", 64),
])
def test_the_recipe_suits_the_folder(side, n_train, weights, model, size):
    recipe = choose_recipe(side, n_train, weights)
    assert (recipe.model, recipe.size) == (model, size)
    said = " ".join(recipe.reasons)
    assert "balanced" in said and "validation patients" in said
    assert f"{side} px" in said or str(n_train) in said, "the reason names what the choice rests on"
    if not weights and side >= TRANSFER_SIZE and n_train >= TRANSFER_MIN_TRAIN:
        assert "weights were not found" in said


# Catches a listing that reads (and so fails on) the pictures, or loses labels and splits.
def test_folder_files_lists_without_reading(tmp_path):
    root = write_kaggle_folder(tmp_path / "xrays", per_label=4)
    (root / "train" / "NORMAL" / "IM-0999-0001.png").write_bytes(b"not a picture")
    found = folder_files(root)
    assert found.label_names == ["NORMAL", "PNEUMONIA"] and found.has_splits
    assert len(found.files) == 17 and {split for _, _, split in found.files} == {"train", "test"}
    with pytest.raises(RadkitError):
        load_image_folder(root, size=8)


# Catches a threshold chosen on the test films (which flatters the result) or left at 0.5, a test score not
# computed at the chosen threshold, and choices made but not said.
def test_train_folder_chooses_on_validation_and_judges_on_test(tmp_path, capsys):
    root = write_kaggle_folder(tmp_path / "xrays")
    result = train_folder(root, epochs=1, verbose=False)
    out = capsys.readouterr().out
    assert "What RadKit chose for this folder, and why:" in out and "small CNN" in out and "64 px" in out
    assert "val taken from train/ by patient" in out and "Threshold" in out and "test films" in out
    data = result.data
    val_probs = _probabilities(result.model, data.val[0])
    assert result.threshold == pytest.approx(evaluate.choose_threshold(data.val[1], val_probs))
    test_probs = _probabilities(result.model, data.test[0])
    expected = evaluate.clinical_metrics(data.test[1], test_probs, result.threshold)
    assert result.test["accuracy"] == pytest.approx(expected["accuracy"])
    assert result.test["auc"] == pytest.approx(evaluate.auc(data.test[1], test_probs))
    assert len(data.test[1]) == 48 and result.recipe.epochs == 1


# Catches a folder of three labels being trained as if yes/no.
def test_train_folder_refuses_more_than_two_labels(tmp_path):
    root = write_kaggle_folder(tmp_path / "xrays", per_label=4)
    (root / "train" / "COVID").mkdir()
    (root / "test" / "COVID").mkdir()
    with pytest.raises(RadkitError, match="3 labels"):
        train_folder(root, epochs=1, verbose=False)
