"""The radkit command."""

from __future__ import annotations

import pytest

from radkit import cli


def test_fetch_offline_fails_with_a_plain_message(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    assert cli.main(["fetch", "pneumoniamnist", "--size", "64"]) == 2
    assert "radkit fetch pneumoniamnist" in capsys.readouterr().err


def test_fetch_from_local_copy(shared_data, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    assert cli.main(["fetch", "pneumoniamnist", "--size", "28"]) == 0
    assert "OK  PneumoniaMNIST (28)" in capsys.readouterr().out


def test_build_course_and_cards(tmp_path, capsys):
    assert cli.main(["cards", "--folder", str(tmp_path / "cards")]) == 0
    assert (tmp_path / "cards" / "pneumoniamnist.md").exists()
    (tmp_path / "solutions").mkdir()
    assert cli.main(["build-course", "--solutions", str(tmp_path / "solutions"),
                     "--course", str(tmp_path / "course")]) == 0


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])
