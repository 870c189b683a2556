"""The models radkit ships, ready to use (notebooks 03, 05 and 09); README.md here says how each was trained.

- ``pneumonia_small_cnn_28px.keras``: notebook 02's classifier trained on real PneumoniaMNIST
  (``radkit.models.course_classifier()`` returns it when you have not saved your own).
- ``pneumonia_small_cnn_28px_phantoms.keras``: its twin, the same recipe trained on the practice
  phantoms, for computers with no data at all.
"""

from __future__ import annotations

from pathlib import Path

PHANTOM_CLASSIFIER = Path(__file__).resolve().parent / "pneumonia_small_cnn_28px_phantoms.keras"


def classifier_for(data):
    """The course's pneumonia classifier that fits these films (notebooks 03 and 05).

    Real films (``data.is_real``): notebook 02's model, yours if you saved it, radkit's otherwise
    (``radkit.models.course_classifier``). Practice phantoms: radkit's twin of it, notebook 02's recipe
    trained on phantoms, because a model trained on real films has never seen a drawing and would
    judge them almost at random (dataset shift, notebook 10). Says in one line which model it uses.
    """
    from radkit import models
    from radkit.config import import_keras
    from radkit.errors import RadkitError

    if getattr(data, "is_real", True):
        return models.course_classifier()
    if not PHANTOM_CLASSIFIER.is_file():
        raise RadkitError("radkit's classifier for the practice phantoms is missing from this installation.",
                          "Reinstall radkit, or run notebook 02 to train and save your own.")
    print("These are practice phantoms, so we use the twin of notebook 02's model that comes with radkit: "
          "the same recipe, trained on phantoms (a model trained on real films has never seen a drawing).")
    return import_keras().models.load_model(PHANTOM_CLASSIFIER)


TRANSFER_REFERENCE = Path(__file__).resolve().parent / "transfer_reference.json"


def transfer_reference() -> dict:
    """Notebook 04's results as measured WITH the pretrained weights, kept so a computer without them can still see them.

    Returns ``{"results": {model name: {"AUC": ..., "accuracy": ...}}, "data": ..., "measured": ...}``: the
    test scores of notebook 04's own full-mode run on real PneumoniaMNIST with Keras' ImageNet weights
    (``benchmarks/transfer_reference.py`` copies them from that run's stored outputs). Notebook 04 shows
    them beside its own run when the weights file is missing (no internet, nothing prepared).
    """
    import json

    from radkit.errors import RadkitError

    if not TRANSFER_REFERENCE.is_file():
        raise RadkitError("radkit's stored results of notebook 04 are missing from this installation.",
                          "Reinstall radkit, or get the weights file (radkit fetch keras_weights) and run it yourself.")
    return json.loads(TRANSFER_REFERENCE.read_text(encoding="utf-8"))
