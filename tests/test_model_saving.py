"""Every kind of course model, compiled by radkit.train as fit does, saved with radkit.models.save_model and loaded
with radkit.models.load_model in a fresh Python process, predicts exactly as before and still knows its task.

Bug caught: a U-Net saved after training could not be loaded in a new kernel ("Could not locate function
'dice_loss'"): its loss and metric were not registered with Keras, and loading did not import them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from radkit import boxes, models, set_seed, train

keras = pytest.importorskip("keras")

KINDS = ("classifier", "multilabel", "transfer", "unet", "fcn8", "box_dense", "box_edges", "centres")


def _build(kind):
    """A tiny model of each kind with a few pictures and labels it can train on for one step."""
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 255, (8, 32, 32), dtype=np.uint8)
    if kind == "classifier":
        return models.small_cnn((32, 32, 1), filters=(4, 8)), (grey, np.arange(8) % 2), "binary"
    if kind == "multilabel":
        return (models.small_cnn((32, 32, 1), n_outputs=3, filters=(4, 8), multi_label=True),
                (grey, rng.integers(0, 2, (8, 3))), "multilabel")
    if kind == "transfer":
        return models.transfer_model((32, 32, 1), weights=None, alpha=0.35), (grey, np.arange(8) % 2), "binary"
    masks = (grey > 128).astype(np.uint8)
    if kind == "unet":
        return models.unet((32, 32, 1), base_filters=4, depth=2), (grey, masks), "segmentation"
    if kind == "fcn8":
        return models.fcn8((32, 32, 1), n_classes=2, base_filters=2), (grey, masks), "segmentation"
    corners = np.tile(np.array([[6.0, 8.0, 24.0, 26.0]], np.float32), (8, 1)) + rng.integers(0, 4, (8, 1))
    if kind in ("box_dense", "box_edges"):
        head = kind.split("_")[1]
        return models.box_regressor((32, 32, 1), head=head), (grey, corners), "boxes"
    colour = rng.integers(0, 255, (8, 32, 48, 3), dtype=np.uint8)
    smears = boxes.pad([corners[i:i + 2] for i in range(8)], [[0, 2]] * 8)
    return models.centre_detector((32, 48, 3), n_classes=3, width=8), (colour, smears), "centres"


LOAD_AND_PREDICT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from radkit.models import compiled_by_radkit, load_model, task_of   # load_model must find what it needs itself
    folder = sys.argv[1]
    found = {}
    for kind in json.loads(sys.argv[2]):
        try:
            model = load_model(f"{folder}/{kind}.keras")
            x = np.load(f"{folder}/{kind}_x.npy")
            np.save(f"{folder}/{kind}_again.npy", model.predict(x, verbose=0))
            found[kind] = {"task": task_of(model), "radkit_compiled": compiled_by_radkit(model), "error": None}
        except Exception as error:
            found[kind] = {"task": None, "error": f"{type(error).__name__}: {error}"[:300]}
    print("RESULT" + json.dumps(found))
""")


@pytest.fixture(scope="module")
def reloaded(tmp_path_factory):
    """Each kind compiled by radkit, saved, and loaded again in a new process: (predictions before, after, report)."""
    folder = tmp_path_factory.mktemp("saved_models")
    before = {}
    for kind in KINDS:
        set_seed(0)
        model, data, _ = _build(kind)
        train.compile_model(model)  # what fit does first: the loss and metrics are saved with the model
        x = train._as_input(data[0], "test", colour=kind == "centres")
        np.save(folder / f"{kind}_x.npy", x)
        before[kind] = model.predict(x, verbose=0)
        models.save_model(model, folder / f"{kind}.keras")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(folder), json.dumps(KINDS)],
                         capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, run.stderr[-2000:]
    return folder, before, json.loads(lines[-1][len("RESULT"):])


@pytest.mark.parametrize("kind", KINDS)
def test_each_model_reloads_in_a_fresh_process_and_predicts_the_same(reloaded, kind):
    folder, before, report = reloaded
    assert report[kind]["error"] is None, report[kind]["error"]
    again = np.load(folder / f"{kind}_again.npy")
    np.testing.assert_allclose(again, before[kind], rtol=1e-5, atol=1e-6)
    assert report[kind]["task"] == _build(kind)[2]
    # radkit's compile is known as radkit's after loading, so fit recompiles it as it would have before saving.
    assert report[kind]["radkit_compiled"] is True
