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
