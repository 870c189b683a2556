"""radkit doctor: a readable report, with a fix for every problem, and no internet needed."""

from __future__ import annotations

import socket

from radkit import doctor
from radkit.doctor import Check


def test_report_without_internet(monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise socket.gaierror("no network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.delenv("RADKIT_OFFLINE", raising=False)
    check = doctor.check_internet()
    assert check.status == "NOTE" and "cannot be reached" in check.detail and "phantoms" in check.fix


def test_full_report_is_readable(capsys):
    ok = doctor.doctor()
    out = capsys.readouterr().out
    for words in ("Python", "tensorflow", "CPU", "Memory", "Disk", "Data:", "Internet"):
        assert words in out
    assert ok == ("PROBLEM" not in out)


def test_every_problem_says_what_to_do(capsys):
    checks = [Check("Memory", "PROBLEM", "1 GB", "Close other programs."), Check("CPU", "OK", "2 cores")]
    assert doctor.doctor(checks) is False
    out = capsys.readouterr().out
    assert "-> Close other programs." in out and "1 problem(s)" in out


def test_missing_package_is_a_problem_with_a_fix(monkeypatch):
    monkeypatch.setattr(doctor, "KEY_PACKAGES", ["surely-not-installed-package"])
    [check] = doctor.check_packages()
    assert check.status == "PROBLEM" and "run.py" in check.fix
