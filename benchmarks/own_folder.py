"""How well does RadKit's own-folder path (radkit.own_images.train_folder) do on a clinician's folder?

Builds a folder in the Kaggle paediatric chest X-ray layout from PneumoniaMNIST (the same kind of films):
train/NORMAL, train/PNEUMONIA, test/NORMAL, test/PNEUMONIA, one PNG per film, with patient-like names
(person12_bacteria_44.png, IM-0115-0001.png, NORMAL2-IM-1427-0001.png; one to three films per patient).
PneumoniaMNIST's training and validation films go to train/ (shuffled: its training set is sorted by label),
its test films to test/. Then it runs train_folder on the folder, which chooses the image size, the model,
a balanced loss and a threshold on validation patients carved out of train/, and prints the test accuracy
and AUC, and the time from the folder to the result.

    RADKIT_LOCAL_DATA=../shared/data python benchmarks/own_folder.py              # 28-px films, as shipped
    RADKIT_LOCAL_DATA=../shared/data python benchmarks/own_folder.py --side 128   # films enlarged to 128 px
    RADKIT_LOCAL_DATA=../shared/data python benchmarks/own_folder.py --baseline 64  # and the former cell, 64 px

``--side`` writes the films larger (bicubic): the folder then looks like larger films, and train_folder's
choice of a pretrained MobileNetV2 can be timed (the enlarged films hold no more detail than the 28-px ones).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from radkit import config  # noqa: E402
from radkit.own_images import train_folder  # noqa: E402

LABELS = ("NORMAL", "PNEUMONIA")


def patient_names(labels, rng, first_patient: int = 1) -> list[str]:
    """A Kaggle-like file name for each film: consecutive films of a label share a patient (1-3 films each)."""
    names = [""] * len(labels)
    for label in (0, 1):
        members = np.flatnonzero(labels == label)
        start, patient = 0, first_patient - 1
        while start < len(members):
            count = int(rng.choice([1, 1, 1, 2, 2, 3]))
            patient += 1
            for k, index in enumerate(members[start:start + count]):
                if label == 1:
                    names[index] = f"person{patient}_{'bacteria' if patient % 3 else 'virus'}_{index}.png"
                else:
                    prefix = "NORMAL2-IM" if patient % 2 else "IM"
                    names[index] = f"{prefix}-{patient:04d}-{k + 1:04d}.png"
            start += count
    return names


def write_folder(npz: Path, out: Path, side: int = 28, seed: int = 0, per_split: int | None = None) -> Path:
    """Write PneumoniaMNIST as a Kaggle-layout folder of PNGs under ``out`` (train/ shuffled); returns ``out``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    stacks = np.load(npz)
    splits = {
        "train": (np.concatenate([stacks["train_images"], stacks["val_images"]]),
                  np.concatenate([stacks["train_labels"], stacks["val_labels"]]).reshape(-1)),
        "test": (stacks["test_images"], stacks["test_labels"].reshape(-1)),
    }
    for first_patient, (split, (images, labels)) in zip((1, 10_000), splits.items()):  # no patient in both
        order = rng.permutation(len(labels))[:per_split]
        images, labels = images[order], labels[order]
        for name, image, label in zip(patient_names(labels, rng, first_patient), images, labels):
            folder = out / split / LABELS[label]
            folder.mkdir(parents=True, exist_ok=True)
            picture = Image.fromarray(image)
            if side != image.shape[0]:
                picture = picture.resize((side, side), Image.BICUBIC)
            picture.save(folder / name)
    return out


def baseline(folder: Path, size: int, seed: int) -> dict:
    """Notebook 02's own-images cell before train_folder: small CNN at ``size`` px, fit's defaults, threshold 0.5."""
    import time

    from radkit import data, evaluate, models, train
    from radkit.own_images import _probabilities

    start = time.perf_counter()
    loaded = data.load_image_folder(folder, size=size)
    split = loaded.split(val=0.15, test=0.15, groups=data.patient_ids(loaded.paths))
    config.set_seed(seed)
    model = models.small_cnn(input_shape=(size, size, 1), n_outputs=1)
    train.fit(model, split.train, split.val, epochs=15, verbose=False)
    probs = _probabilities(model, split.test[0])
    scores = evaluate.clinical_metrics(split.test[1], probs, 0.5)
    scores["auc"] = evaluate.auc(split.test[1], probs)
    scores["seconds"] = time.perf_counter() - start
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=28, help="pixels across the written films (28: as shipped)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=None, help="override train_folder's choice")
    parser.add_argument("--baseline", type=int, default=0, metavar="SIZE",
                        help="also run notebook 02's former own-images cell at SIZE px (small CNN, threshold 0.5)")
    args = parser.parse_args()
    local = config.local_data_dir()
    npz = (local / "pneumoniamnist" / "pneumoniamnist.npz") if local else None
    if npz is None or not npz.is_file():
        sys.exit("Set RADKIT_LOCAL_DATA to the shared data folder (it holds pneumoniamnist/pneumoniamnist.npz).")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(npz, Path(tmp) / "chest_xray", side=args.side)
        n = {s: sum(1 for _ in (folder / s).rglob("*.png")) for s in ("train", "test")}
        print(f"Folder: train/ {n['train']} films, test/ {n['test']} films, {args.side} px, Kaggle layout.")
        result = train_folder(folder, seed=args.seed, epochs=args.epochs)
        before = baseline(folder, args.baseline, args.seed) if args.baseline else None
    test = result.test
    from radkit import evaluate
    from radkit.own_images import _probabilities

    at_half = evaluate.clinical_metrics(result.data.test[1], _probabilities(result.model, result.data.test[0]), 0.5)
    print(f"\nRESULT side={args.side}px model={result.recipe.model} size={result.recipe.size}px "
          f"threshold={result.threshold:.3f} ACC={test['accuracy']:.3f} AUC={test['auc']:.3f} "
          f"sensitivity={test['sensitivity']:.3f} specificity={test['specificity']:.3f} "
          f"time={result.seconds / 60:.1f} min (folder to result, {os.cpu_count()} CPU cores); "
          f"the same model at threshold 0.5: ACC={at_half['accuracy']:.3f}")
    if before:
        print(f"BEFORE (notebook 02's cell: small CNN at {args.baseline} px, threshold 0.5) "
              f"ACC={before['accuracy']:.3f} AUC={before['auc']:.3f} sensitivity={before['sensitivity']:.3f} "
              f"specificity={before['specificity']:.3f} time={before['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
