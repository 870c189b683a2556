"""Train the small pneumonia classifier that ships inside radkit (radkit/pretrained/).

``radkit.models.course_classifier()`` returns the model notebook 02 saved, or,
when a learner has not run notebook 02 (or runs in fast mode), this shipped
checkpoint. It is notebook 02's recipe exactly - ``small_cnn`` at 28 px,
``train.fit`` with augmentation, balanced class weights, early stopping on
validation AUC, seed 42, 15 epochs - trained on real PneumoniaMNIST, so that
notebooks 03, 05 and 09 teach with a model that has really learned.

    PYTHONPATH=. python benchmarks/train_course_classifier.py \
        --npz /work/shared/data/pneumoniamnist/pneumoniamnist.npz

It writes ``radkit/pretrained/pneumonia_small_cnn_28px.keras`` and prints the
test AUC, and sensitivity and specificity at a threshold of 0.5, for
``radkit/pretrained/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from radkit import data, evaluate, models, set_seed, train  # noqa: E402

OUT = ROOT / "radkit" / "pretrained" / "pneumonia_small_cnn_28px.keras"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", required=True, help="PneumoniaMNIST .npz at 28 px")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    xrays = data.load_medmnist(args.npz)
    if xrays.train[0].shape[1] != 28:
        sys.exit(f"{args.npz} holds {xrays.train[0].shape[1]} px images; the shipped model is 28 px.")
    set_seed(42)
    model = models.small_cnn(input_shape=(28, 28, 1), name="course_classifier_28px")
    history = train.fit(model, xrays.train, xrays.val, epochs=args.epochs)
    test_images, test_labels = xrays.test
    probs = model.predict(data.to_model_input(test_images), verbose=0)[:, 0]
    m = evaluate.clinical_metrics(test_labels, probs, 0.5)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(test_labels, probs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # An uncompiled copy: the optimiser's state would triple the file, and predicting needs none of it.
    shipped = models.small_cnn(input_shape=(28, 28, 1), name=model.name)
    shipped.set_weights(model.get_weights())
    shipped.save(args.out)
    print(f"Saved {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KB), best epoch {history.best_epoch}")
    print(f"Test ({len(test_labels)} films): AUC {auc:.3f}, at 0.5: sensitivity {m['sensitivity']:.3f}, "
          f"specificity {m['specificity']:.3f}")
    print(f"Test set: {int(np.sum(test_labels == 1))} pneumonia, {int(np.sum(test_labels == 0))} normal")


if __name__ == "__main__":
    main()
