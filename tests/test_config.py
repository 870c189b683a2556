"""Data folder, fast mode and seeding."""

from __future__ import annotations

import numpy as np

import radkit
from radkit import config


def test_data_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "here"))
    assert config.data_dir() == tmp_path / "here"
    assert (tmp_path / "here").is_dir()


def test_data_dir_has_a_per_user_default(monkeypatch):
    monkeypatch.delenv("RADKIT_DATA", raising=False)
    assert "radkit" in str(config.data_dir()).lower()


def test_local_data_dir_is_none_unless_it_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(tmp_path / "missing"))
    assert config.local_data_dir() is None
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(tmp_path))
    assert config.local_data_dir() == tmp_path


def test_fast_mode_switch(monkeypatch):
    monkeypatch.setenv("RADKIT_FAST", "1")
    assert config.fast_mode() and config.pick(full=10, fast=2) == 2
    monkeypatch.setenv("RADKIT_FAST", "0")
    assert not config.fast_mode() and config.pick(full=10, fast=2) == 10


def test_set_seed_makes_numpy_and_tensorflow_repeatable():
    import tensorflow as tf

    config.set_seed(7)
    first = np.random.rand(3), tf.random.uniform((3,)).numpy()
    config.set_seed(7)
    second = np.random.rand(3), tf.random.uniform((3,)).numpy()
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_setup_prints_mode_and_seed(capsys, monkeypatch):
    monkeypatch.setenv("RADKIT_FAST", "1")
    radkit.setup(seed=3)
    out = capsys.readouterr().out
    assert "FAST" in out and "seed: 3" in out


# Bug caught: setup() printed the data folder's absolute path (user name, folder layout) into every
# notebook's stored output.
def test_setup_shows_the_data_folder_without_an_absolute_path(capsys, monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.setenv("RADKIT_DATA", str(Path.home() / ".cache" / "radkit-test-display"))
    radkit.setup(seed=3)
    assert "data folder: ~/.cache/radkit-test-display" in capsys.readouterr().out
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "data"))
    radkit.setup(seed=3)
    out = capsys.readouterr().out
    assert str(tmp_path) not in out and "data folder: .../data" in out
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "a-file" / "data"))  # cannot be created
    radkit.setup(seed=3)
    out = capsys.readouterr().out
    assert "cannot create its data folder" in out and "practice images" in out and str(tmp_path) not in out
    (Path.home() / ".cache" / "radkit-test-display").rmdir()


def test_display_path_never_shows_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(tmp_path / "stick"))
    assert config.display_path(tmp_path / "data" / "09_browser_app" / "site") == "<data folder>/09_browser_app/site"
    assert config.display_path(tmp_path / "stick" / "x.npz") == "<RADKIT_LOCAL_DATA>/x.npz"
    monkeypatch.chdir(tmp_path)
    assert config.display_path("project/site") == "./project/site"
    assert config.display_path("/opt/elsewhere/site") == ".../site"


# Bug caught: config.import_tensorflow() reached os.environ inside code TensorFlow traces for augmentation,
# so AutoGraph printed a warning holding every environment variable (tokens included) in the first
# training cell of each notebook. Runs in a fresh process: AutoGraph warns once per function.
def test_augmentation_prints_no_tensorflow_warning_and_no_environment():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import numpy as np\nfrom radkit import train\n"
            "ds = train.make_dataset(np.random.rand(8, 16, 16, 1).astype('float32'), np.zeros(8), batch_size=4,"
            " augment=True)\nfor batch in ds: pass\nprint('trained')")
    env = {**os.environ, "RADKIT_SECRET_TOKEN_FOR_TEST": "sk-do-not-print-7311"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "trained" in result.stdout, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "sk-do-not-print-7311" not in output and "environ(" not in output
    assert "WARNING:tensorflow" not in output
