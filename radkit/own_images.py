"""Train a classifier on your own folder of films, with choices made for that folder (notebook 02, section 9).

``train_folder("my_xrays")`` looks at the folder first (how large its pictures are, how many films and
patients it has, whether the pretrained MobileNetV2 weights are at hand), says what it chose and why,
then loads, splits by patient, trains with a balanced loss, chooses the threshold on the validation
patients and judges the result once on the test patients. Every step is a radkit call the course
teaches, so the recipe can be copied and changed:

    folder = radkit.data.load_image_folder(path, size=recipe.size)
    data = folder.split(val=0.15, test=0.15, groups=radkit.data.patient_ids(folder.paths))
    model = radkit.models.small_cnn(...)  or  radkit.models.transfer_model(...)
    radkit.train.fit(model, data.train, data.val, class_weight="balanced")
    threshold = radkit.evaluate.choose_threshold(val_labels, val_probs, rule="youden")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config
from radkit.errors import RadkitError

# A folder needs about this many training films before a pretrained network (fine-tuned) beats a small CNN
# trained from scratch by more than the noise, and pays for its slower epochs.
TRANSFER_MIN_TRAIN = 1000
# Pictures at least this large (their shorter side, in pixels) carry detail that a 96-pixel input keeps and a
# 64-pixel one loses.
TRANSFER_MIN_SIDE = 96
TRANSFER_SIZE = 96   # MobileNetV2 input: ~5x fewer pixels than the 224 it was trained at, same weights
# The small CNN's four poolings leave a 4 x 4 grid of features at 64 px and 1 x 1 at 28 px: films smaller than
# 64 px are enlarged to it (on PneumoniaMNIST written as a folder, 64 px beat the films' own 28 px:
# benchmarks/own_folder.py --baseline 64), larger ones reduced (a small CNN gains little above it).
SMALL_CNN_SIZE = 64


@dataclass
class Recipe:
    """What ``train_folder`` will do with a folder, and why (``choose_recipe``)."""

    size: int
    model: str                       # "small_cnn" or "mobilenetv2"
    epochs: int
    fine_tune_epochs: int = 0        # MobileNetV2 only: epochs with its last blocks learning too
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> None:
        """Print the choices, one line each, with the reason."""
        print("What RadKit chose for this folder, and why:")
        for reason in self.reasons:
            print(f"- {reason}")


def picture_side(paths, sample: int = 25, seed: int = 0) -> int:
    """The typical shorter side, in pixels, of the pictures in ``paths`` (the median of a random few)."""
    from radkit.data import read_image

    paths = list(paths)
    if not paths:
        raise RadkitError("The folder has no pictures to look at.", "Check the path of your folder.")
    chosen = np.random.default_rng(seed).permutation(len(paths))[:sample]
    sides = [min(read_image(paths[i]).shape[:2]) for i in chosen]
    return int(np.median(sides))


def choose_recipe(side: int, n_train: int, weights_found: bool, epochs: int | None = None) -> Recipe:
    """Choose image size, model and epochs for a folder whose pictures are ``side`` pixels across.

    MobileNetV2 (pretrained on photos, fine-tuned) when the folder has at least ``TRANSFER_MIN_TRAIN``
    training films of at least ``TRANSFER_MIN_SIDE`` pixels and the weights are at hand; otherwise the
    course's small CNN at 64 px. The loss is always balanced.
    """
    reasons = []
    big_enough = n_train >= TRANSFER_MIN_TRAIN and side >= TRANSFER_MIN_SIDE
    if big_enough and weights_found:
        size, model = TRANSFER_SIZE, "mobilenetv2"
        frozen, tuned = (epochs, epochs) if epochs else (config.pick(full=4, fast=1), config.pick(full=6, fast=1))
        reasons.append(f"model: MobileNetV2 pretrained on photos, fine-tuned, because the folder has {n_train} "
                       f"training films (at least {TRANSFER_MIN_TRAIN}) of {side} px, enough to adapt a large "
                       "pretrained network without memorising the films.")
        reasons.append(f"image size: {size} px, because the films are {side} px across: {size} px keeps more "
                       f"detail than the course's 28 or 64 px, with {(224 / size) ** 2:.0f} times fewer pixels to "
                       "compute than the 224 px MobileNetV2 was trained at.")
        reasons.append(f"training: {frozen} epoch(s) with the pretrained part frozen (only the new last layer "
                       f"learns), then {tuned} with its last blocks learning too, at a 10 times smaller step.")
        recipe = Recipe(size, model, frozen, tuned, reasons)
    else:
        size = SMALL_CNN_SIZE
        if not big_enough:
            why = (f"only {n_train} training films (a pretrained network pays from about {TRANSFER_MIN_TRAIN})"
                   if n_train < TRANSFER_MIN_TRAIN else
                   f"the films are only {side} px across, too small for a network made for photos")
        else:
            why = (f"its {n_train} films of {side} px would suit a pretrained MobileNetV2, but its weights were "
                   "not found (radkit.download.keras_weights says where it looks), and the same network with "
                   "random weights needs far more films")
        reasons.append(f"model: the course's small CNN, because {why}.")
        reasons.append(f"image size: {size} px (the films are {side} px): "
                       + ("enlarged, because the small CNN halves the picture four times and keeps a finer "
                          "grid of features from a larger input." if side < size else
                          "a small CNN gains little from larger pictures and slows down."))
        n = epochs or config.pick(full=15, fast=2)
        reasons.append(f"training: up to {n} epochs, keeping the epoch with the best validation AUC.")
        recipe = Recipe(size, "small_cnn", n, 0, reasons)
    recipe.reasons.append("loss: balanced (class_weight='balanced'), so the rarer label counts as much as the "
                          "commoner one instead of being outvoted.")
    recipe.reasons.append("threshold: chosen on the validation patients (the balance of sensitivity and "
                          "specificity, Youden's rule), never on the test patients, who judge the result once.")
    return recipe


def _weights_found() -> bool:
    from radkit import download

    try:
        download.keras_weights("mobilenetv2_0.35", quiet=True)
        return True
    except RadkitError:
        return False


@dataclass
class FolderResult:
    """What ``train_folder`` returns: the trained model and everything needed to use and judge it."""

    model: object
    data: object                     # radkit.data.ImageDataset: train, val and test as arrays
    recipe: Recipe
    threshold: float
    test: dict | None                # clinical metrics on the test patients at ``threshold`` (with "auc")
    seconds: float


def _train(recipe: Recipe, data, seed: int, verbose):
    from radkit import models, train

    config.set_seed(seed)
    shape = (recipe.size, recipe.size, 1)
    if recipe.model == "small_cnn":
        model = models.small_cnn(input_shape=shape)
        train.fit(model, data.train, data.val, epochs=recipe.epochs, class_weight="balanced", seed=seed,
                  verbose=verbose)
        return model
    model = models.transfer_model(shape, base="mobilenetv2", weights="imagenet")
    train.fit(model, data.train, data.val, epochs=recipe.epochs, class_weight="balanced", seed=seed,
              patience=recipe.epochs, verbose=verbose)
    if recipe.fine_tune_epochs:
        models.set_trainable(model, True, fine_tune_from="block_13_expand")
        train.fit(model, data.train, data.val, epochs=recipe.fine_tune_epochs, class_weight="balanced", seed=seed,
                  learning_rate=1e-4, verbose=verbose)
    return model


def train_folder(folder, seed: int = config.DEFAULT_SEED, epochs: int | None = None, val: float = 0.15,
                 test: float = 0.15, verbose=True) -> FolderResult:
    """Train and judge a normal-vs-finding classifier on your own folder, choosing well for it (notebook 02).

    ``folder`` holds one sub-folder per label (two labels), or train/ and test/ (and perhaps val/) folders
    each holding them, as the Kaggle paediatric chest X-rays do. Validation (and test, if the folder has
    none) is carved out by patient (``radkit.data.patient_ids``). Prints what it chose and why, the
    threshold, and the test patients' accuracy, sensitivity, specificity and AUC.

    >>> result = radkit.own_images.train_folder("my_xrays")      # doctest: +SKIP
    >>> result.threshold, result.test["accuracy"]                # doctest: +SKIP
    """
    import time

    from radkit import data as rdata
    from radkit import evaluate

    start = time.perf_counter()
    found = rdata.folder_files(folder)  # labels and splits from the folder names; no picture read yet
    if len(found.label_names) != 2:
        raise RadkitError(f"The folder has {len(found.label_names)} labels ({', '.join(found.label_names)}); "
                          "train_folder makes a yes/no model for two.",
                          "Keep two label folders, for example normal/ and pneumonia/.")
    splits = [split for _, _, split in found.files]
    if found.has_splits:  # the folder's own train/ (less the validation carved from it when there is no val/)
        n_train = splits.count("train") * (1 if "val" in splits else 1 - val)
    else:
        n_train = len(splits) * (1 - val - test)
    side = picture_side([path for path, _, _ in found.files], seed=seed)
    recipe = choose_recipe(side, int(n_train), _weights_found(), epochs)
    recipe.describe()
    pictures = rdata.load_image_folder(folder, size=recipe.size)
    data = pictures.split(val=val, test=test, seed=seed, groups=rdata.patient_ids(pictures.paths))
    data.describe()
    model = _train(recipe, data, seed, verbose)
    val_probs = _probabilities(model, data.val[0])
    threshold = evaluate.choose_threshold(data.val[1], val_probs, rule="youden")
    print(f"Threshold {threshold:.3f}, chosen on the {len(data.val[1])} validation films: above it a film is "
          f"called '{data.label_names[1]}'.")
    scores = None
    if len(data.test[1]):
        test_probs = _probabilities(model, data.test[0])
        scores = evaluate.clinical_metrics(data.test[1], test_probs, threshold)
        scores["auc"] = evaluate.auc(data.test[1], test_probs)
        print(f"On the {len(data.test[1])} test films, never used to choose anything: accuracy "
              f"{scores['accuracy']:.3f}, sensitivity {scores['sensitivity']:.3f}, specificity "
              f"{scores['specificity']:.3f}, AUC {scores['auc']:.3f}.")
    seconds = time.perf_counter() - start
    print(f"From the folder to this result: {seconds / 60:.1f} min.")
    return FolderResult(model, data, recipe, threshold, scores, seconds)


def _probabilities(model, images) -> np.ndarray:
    """The model's probability of the second label for each picture."""
    from radkit.data import to_model_input

    return np.asarray(model.predict(to_model_input(images), batch_size=256, verbose=0)).reshape(-1)
