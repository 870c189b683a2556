"""Train the phantom twin of the course's pneumonia classifier (radkit/pretrained/).

``radkit.pretrained.classifier_for(data)`` gives notebooks 03 and 05 a model that
fits the films they judge. On real films that is notebook 02's model (the
learner's, or the one radkit ships, trained on real PneumoniaMNIST). On the
practice phantoms (no data at all, RADKIT_OFFLINE=1) a model trained on real
films has never seen a drawing and answers nearly at random (dataset shift,
notebook 10), so radkit ships this twin: notebook 02's recipe exactly -
``small_cnn`` at 28 px, ``train.fit`` with augmentation, balanced class weights,
early stopping on validation AUC, seed 42, up to 15 epochs - trained on the
phantoms ``radkit.data.load_pneumonia`` makes in full mode.

    PYTHONPATH=. python benchmarks/train_phantom_classifier.py

It writes ``radkit/pretrained/pneumonia_small_cnn_28px_phantoms.keras`` and prints
the test AUC, and sensitivity and specificity at 0.5, for ``radkit/pretrained/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from radkit import data, evaluate, models, set_seed, train  # noqa: E402
from radkit.pretrained import PHANTOM_CLASSIFIER  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=PHANTOM_CLASSIFIER)
    args = parser.parse_args()

    films = data.load_phantom_chest(28, 3000, 500, 600, seed=0)  # the phantoms of load_pneumonia in full mode
    set_seed(42)
    model = models.small_cnn(input_shape=(28, 28, 1), name="course_classifier_28px_phantoms")
    history = train.fit(model, films.train, films.val, epochs=args.epochs)
    test_images, test_labels = films.test
    probs = evaluate.predict_probabilities(model, test_images)
    m = evaluate.clinical_metrics(test_labels, probs, 0.5)
    # An uncompiled copy: predicting needs no optimiser state.
    shipped = models.small_cnn(input_shape=(28, 28, 1), name=model.name)
    shipped.set_weights(model.get_weights())
    shipped.save(args.out)
    print(f"Saved {args.out.name} ({args.out.stat().st_size / 1024:.0f} KB), best epoch {history.best_epoch}")
    print(f"Test ({len(test_labels)} phantom films, {int(test_labels.sum())} pneumonia): AUC "
          f"{evaluate.auc(test_labels, probs):.3f}, at 0.5: sensitivity {m['sensitivity']:.3f}, "
          f"specificity {m['specificity']:.3f}")


if __name__ == "__main__":
    main()
