"""radkit.train.fit does what it is told: it takes loss= and metrics=, keeps a learner's own compile, learns what a
radkit model was built for from what radkit recorded (never from its shape or its last layer's name), and refuses a
model it cannot know in plain words.

Bugs caught: fit recompiled whenever schedule == "cosine" (its default), silently replacing a learner's own
model.compile(loss=...); it chose the loss by guessing from the output shape or the last layer's name.
"""

from __future__ import annotations

import numpy as np
import pytest

from radkit import RadkitError, models, phantoms, set_seed, train

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def tiny():
    films = phantoms.chest_xrays(48, size=16, prevalence=0.4, seed=3)
    x, y = films["images"], films["labels"]
    return (x[:32], y[:32]), (x[32:], y[32:])


def _plain_model(n_outputs=1, last_name="prediction", activation="sigmoid"):
    """A learner's own small Keras model, not built by radkit."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=activation, name=last_name)(x))


def _loss_name(model):
    loss = model.loss
    return loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)


def test_fit_keeps_the_learners_own_compile_with_the_default_schedule(tiny):
    set_seed(0)
    model = models.small_cnn((16, 16, 1), filters=(4, 8))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mean_squared_error", metrics=["mae"])
    optimizer = model.optimizer
    history = train.fit(model, *tiny, epochs=2, batch_size=16, verbose=False)  # schedule="cosine" by default
    assert _loss_name(model) == "mean_squared_error"
    assert "mae" in history.history and "val_mae" in history.history
    assert model.optimizer is optimizer and isinstance(optimizer, keras.optimizers.SGD)


def test_a_learners_plain_keras_model_trains_with_its_own_loss(tiny):
    set_seed(0)
    model = _plain_model()
    model.compile(optimizer="adam", loss="binary_focal_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    history = train.fit(model, *tiny, epochs=2, batch_size=16, verbose=False)
    assert _loss_name(model) == "binary_focal_crossentropy"
    assert len(history.history["val_auc"]) >= 1 and history.best_epoch is not None


def test_fit_takes_loss_and_metrics_when_asked(tiny):
    set_seed(0)
    model = models.small_cnn((16, 16, 1), filters=(4, 8))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = train.fit(model, *tiny, epochs=1, batch_size=16, verbose=False, loss="mean_squared_error",
                        metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
    assert _loss_name(model) == "mean_squared_error"
    assert "val_mae" in history.history and "auc" not in history.history
    assert models.compiled_by_radkit(model)  # asked for: radkit compiled it, with this loss
    # A model radkit knows nothing about trains with the loss given.
    plain = _plain_model()
    train.fit(plain, *tiny, epochs=1, batch_size=16, verbose=False, loss="binary_crossentropy")
    assert _loss_name(plain) == "binary_crossentropy"


def test_an_unknown_uncompiled_model_is_refused_in_plain_words(tiny):
    with pytest.raises(RadkitError, match="does not know what this model is for") as caught:
        train.fit(_plain_model(), *tiny, epochs=1, verbose=False)
    assert "loss=" in caught.value.fix and "compile" in caught.value.fix


def test_the_task_is_recorded_not_guessed_from_the_last_layers_name(tiny):
    # Four independent findings from a last layer that happens to be called "box": old fit took it for a detector.
    set_seed(0)
    model = models.set_task(_plain_model(n_outputs=4, last_name="box"), "multilabel")
    findings = (np.arange(32)[:, None] >> np.arange(4)) % 2
    history = train.fit(model, (tiny[0][0], findings), (tiny[1][0], findings[:16]), epochs=1, batch_size=16,
                        verbose=False)
    assert _loss_name(model) == "binary_crossentropy" and "val_auc" in history.history
    # radkit's own builders record what each model is for.
    assert models.task_of(models.small_cnn((16, 16, 1), filters=(4,))) == "binary"
    assert models.task_of(models.small_cnn((16, 16, 1), n_outputs=3, filters=(4,))) == "multiclass"
    assert models.task_of(models.small_cnn((16, 16, 1), n_outputs=3, filters=(4,), multi_label=True)) == "multilabel"
    assert models.task_of(models.unet((16, 16, 1), base_filters=2, depth=1)) == "segmentation"
    assert models.task_of(models.box_regressor((32, 32, 1))) == "boxes"
    assert models.task_of(models.centre_detector((16, 16, 1), width=4)) == "centres"
    assert models.task_of(_plain_model()) is None
    with pytest.raises(RadkitError, match="not one radkit knows"):
        models.set_task(_plain_model(), "pneumonia")


def test_radkit_still_recompiles_its_own_models_as_before(tiny):
    """radkit's own compile is not the learner's: fit recompiles it (fresh Adam, cosine schedule) as it always did."""
    set_seed(0)
    model = models.small_cnn((16, 16, 1), filters=(4, 8))
    train.fit(model, *tiny, epochs=1, batch_size=16, verbose=False)
    first = model.optimizer
    assert models.compiled_by_radkit(model) and _loss_name(model) == "binary_crossentropy"
    train.fit(model, *tiny, epochs=1, batch_size=16, verbose=False)
    assert model.optimizer is not first and models.compiled_by_radkit(model)
