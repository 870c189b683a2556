"""Tests for radkit.train: repeatable training, class weights, augmentation, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import RadkitError, models, phantoms, set_seed, train

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def tiny():
    """64 small phantom chest films: train and validation pairs of (uint8 images, labels)."""
    films = phantoms.chest_xrays(64, size=32, prevalence=0.4, seed=3)
    x, y = films["images"], films["labels"]
    return (x[:48], y[:48]), (x[48:], y[48:])


def _train_once(tiny, seed=7):
    set_seed(seed)
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    history = train.fit(model, *tiny, epochs=1, batch_size=16, seed=seed, verbose=False)
    return model, history


def test_same_seed_same_numbers(tiny):
    model_a, history_a = _train_once(tiny)
    model_b, history_b = _train_once(tiny)
    assert history_a.history == history_b.history
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    model_c, _ = _train_once(tiny, seed=8)
    assert not all(np.array_equal(a, c) for a, c in zip(model_a.get_weights(), model_c.get_weights()))


def test_fit_returns_history_with_best_epoch(tiny, capsys):
    set_seed(0)
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    history = train.fit(model, *tiny, epochs=2, batch_size=16, patience=1)
    said = capsys.readouterr().out
    assert "epoch  1/2" in said and "val: loss" in said and "best val_auc" in said
    assert {"loss", "auc", "val_loss", "val_auc"} <= set(history.history)
    assert history.best_epoch in (1, 2) and history.seconds > 0
    figure = train.plot_history(history)
    assert len(figure.axes) == 2


def test_balanced_class_weights():
    weights = train.class_weights(np.array([0] * 25 + [1] * 75))
    assert weights == pytest.approx({0: 2.0, 1: 100 / 150})
    assert 25 * weights[0] == pytest.approx(75 * weights[1])  # each class pulls equally


def test_class_weights_reach_the_pipeline():
    x = np.zeros((4, 8, 8), np.uint8)
    batch = next(iter(train.make_dataset(x, np.array([0, 1, 1, 1]), batch_size=4, class_weight={0: 3.0, 1: 0.5})))
    np.testing.assert_allclose(batch[2].numpy(), [3.0, 0.5, 0.5, 0.5])


def test_frozen_layers_stay_unchanged_after_fit(tiny):
    """fit notices a change of what is trainable and compiles again, so a frozen layer really is frozen."""
    set_seed(0)
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    train.fit(model, *tiny, epochs=1, batch_size=16, verbose=False)
    model.get_layer("conv1").trainable = False
    before = model.get_layer("conv1").get_weights()[0].copy()
    train.fit(model, *tiny, epochs=1, batch_size=16, verbose=False)
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0], before)


def _asymmetric_image(size=32):
    """A bright block on the left only, so a left-right flip would be obvious."""
    image = np.zeros((1, size, size, 1), np.float32)
    image[0, 8:24, 3:12] = 1.0
    return image


def test_augmentation_never_flips():
    image = _asymmetric_image()
    flipped = image[:, :, ::-1]
    for seed in range(20):
        out = train.augment(image, seed=seed)
        assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
        left, right = out[0, :, :16].mean(), out[0, :, 16:].mean()
        assert left > right + 0.1
        assert np.abs(out - image).mean() < np.abs(out - flipped).mean()


def test_augmentation_is_seeded_and_varied():
    image = np.repeat(_asymmetric_image(), 4, axis=0)
    np.testing.assert_array_equal(train.augment(image, seed=1), train.augment(image, seed=1))
    assert not np.allclose(train.augment(image, seed=1), train.augment(image, seed=2))
    out = train.augment(image, seed=1)
    assert not np.allclose(out[0], out[1])  # each picture in a batch is changed differently


def test_augmentation_skips_the_moves_set_to_zero():
    """A move set to 0 resamples nothing: the detectors' colour step and their Keras box layers were each
    resampling every pixel for nothing: 3.3 s of a smear epoch's augmentation became 2.3-2.8 s."""
    tf = pytest.importorskip("tensorflow")
    still = {**train.AUGMENT, "rotation": 0.0, "zoom": 0.0, "shift": 0.0}

    def resamples(settings):
        traced = tf.function(lambda x: train._augment_batch(x, [1, 2], settings))
        graph = traced.get_concrete_function(tf.TensorSpec([None, 8, 8, 3], tf.float32)).graph
        return "ImageProjectiveTransformV3" in {op.type for op in graph.get_operations()}

    assert resamples(train.AUGMENT) and not resamples(still)
    steps = train._box_augmenter({**train.AUGMENT, "rotation": 0.0}, flip=True, seed=0)
    assert [type(step).__name__ for step in steps] == ["RandomZoom", "RandomTranslation", "RandomFlip"]
    assert [type(step).__name__ for step in train._box_augmenter(still, flip=False, seed=0)] == []
    # Brightness and contrast still change the pictures.
    image = np.repeat(_asymmetric_image(), 2, axis=0)
    assert not np.allclose(train.augment(image, seed=1, **still), image)


def test_augmentation_settings_are_checked():
    with pytest.raises(RadkitError, match="flip"):
        train.augment(_asymmetric_image(), flip=True)


def test_training_pipeline_changes_each_epoch():
    x = np.repeat(_asymmetric_image(), 2, axis=0)
    dataset = train.make_dataset(x, np.array([0, 1]), batch_size=2, augment=True)
    first, second = (next(iter(dataset))[0].numpy() for _ in range(2))
    assert not np.allclose(first, second)


def test_colour_images_give_clear_error(tiny):
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    colour = np.repeat(tiny[0][0][..., None], 3, axis=-1)
    with pytest.raises(RadkitError, match="colour") as error:
        train.fit(model, (colour, tiny[0][1]), tiny[1], epochs=1, verbose=False)
    assert "grey" in str(error.value)


def test_wrong_size_gives_clear_error(tiny):
    model = models.small_cnn((64, 64, 1), filters=(8, 16))
    with pytest.raises(RadkitError, match="64 x 64") as error:
        train.fit(model, *tiny, epochs=1, verbose=False)
    assert "to_model_input(images, size=64)" in str(error.value)


def test_one_class_only_gives_clear_error(tiny):
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    images = tiny[0][0]
    with pytest.raises(RadkitError, match="only one class"):
        train.fit(model, (images, np.ones(len(images), int)), tiny[1], epochs=1, verbose=False,
                  label_names=["normal", "pneumonia"])


def test_label_count_mismatch_and_bad_range(tiny):
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    with pytest.raises(RadkitError, match="labels"):
        train.fit(model, (tiny[0][0], tiny[0][1][:-1]), tiny[1], epochs=1, verbose=False)
    with pytest.raises(RadkitError, match="must be 0 or 1"):
        train.fit(model, (tiny[0][0], tiny[0][1] + 1), tiny[1], epochs=1, verbose=False)
    with pytest.raises(RadkitError, match="0 to 1"):
        train.fit(model, (tiny[0][0][..., None].astype(np.float32), tiny[0][1]), tiny[1], epochs=1, verbose=False)


# Catches AutoGraph printing the whole environment (every variable, tokens included) into a notebook's output
# when traced augmentation code touches os.environ (it appeared in notebook 02's stored output). A fresh process,
# because AutoGraph warns only the first time it converts a function.
def test_training_with_augmentation_does_not_print_the_environment(tmp_path):
    import subprocess
    import sys

    script = ("import numpy as np, radkit\nfrom radkit import models, train\n"
              "x = np.random.default_rng(0).integers(0, 255, (64, 16, 16), dtype=np.uint8)\n"
              "y = np.arange(64) % 2\n"
              "train.fit(models.small_cnn((16, 16, 1), filters=(4,)), (x, y), (x, y), epochs=1, verbose=False)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-500:]
    assert "environ(" not in run.stdout + run.stderr


# Catches epoch axes with fractional ticks ("epoch 2.5") on short runs (issue 9 §5).
def test_plot_history_epoch_ticks_are_whole_numbers():
    import matplotlib

    matplotlib.use("Agg")

    class History:
        history = {"loss": [0.7, 0.5, 0.4], "val_loss": [0.8, 0.6, 0.6], "auc": [0.6, 0.8, 0.9],
                   "val_auc": [0.5, 0.7, 0.7]}
        best_epoch = 2

    fig = train.plot_history(History())
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


# Catches fit(val=None) putting back the epoch with the lowest *training* loss: on augmented pictures that choice is
# noise, and it silently replaced the trained model (the detection benchmark's final models learn with no val).
def test_with_no_validation_the_last_epochs_weights_are_kept(tiny, monkeypatch):
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["loss"], [w.copy() for w in self.model.get_weights()]))

    monkeypatch.setattr(train, "epoch_printer", lambda epochs: Recorder())
    set_seed(1)
    model = models.small_cnn((32, 32, 1), filters=(8, 16))
    history = train.fit(model, tiny[0], None, epochs=4, batch_size=16, patience=4, learning_rate=0.2,
                        schedule=None, seed=1)
    losses = [loss for loss, _ in seen]
    assert int(np.argmin(losses)) != len(losses) - 1, f"the last epoch had the lowest loss {losses}: test proves nothing"
    assert history.best_epoch == len(losses) == 4
    for kept, last in zip(model.get_weights(), seen[-1][1]):
        np.testing.assert_array_equal(kept, last)
