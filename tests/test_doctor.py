"""radkit doctor: a readable report, with a fix for every problem, and no internet needed."""

from __future__ import annotations

import re
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
    # Bug caught: the reason was given as "(gaierror)", a word no clinician knows.
    assert check.detail.startswith("no internet") and "gaierror" not in check.detail


def test_full_report_is_readable(capsys):
    ok = doctor.doctor()
    out = capsys.readouterr().out
    for words in ("Python", "tensorflow", "CPU", "Memory", "Disk", "Data:", "Internet"):
        assert words in out
    assert bool(ok) == ("PROBLEM" not in out)


def test_every_problem_says_what_to_do(capsys):
    checks = [Check("Memory", "PROBLEM", "1 GB", "Close other programs."), Check("CPU", "OK", "2 cores")]
    assert not doctor.doctor(checks)
    out = capsys.readouterr().out
    assert "-> Close other programs." in out and "1 problem(s)" in out


def test_missing_package_is_a_problem_with_a_fix(monkeypatch):
    monkeypatch.setattr(doctor, "KEY_PACKAGES", ["surely-not-installed-package"])
    [check] = doctor.check_packages()
    assert check.status == "PROBLEM" and "run.py" in check.fix


# Bug caught: doctor said PneumoniaMNIST was OK when only 28 px was here, while four notebooks ask for 64 px
# (and wrote sizes as "(28)"); it did not say what happens without the missing file.
def test_data_check_covers_what_the_notebooks_ask_for(data_dir, monkeypatch):
    from radkit import registry

    card = registry.get("pneumoniamnist")
    [check] = [c for c in doctor.check_data() if "PneumoniaMNIST" in c.name]
    assert check.status == "NOTE" and "not on this computer" in check.detail and "practice images" in check.fix
    assert "run.py fetch pneumoniamnist --size 28 --size 64" in check.fix
    (data_dir / "pneumoniamnist").mkdir(parents=True)
    (data_dir / "pneumoniamnist" / card.files[28].name).write_bytes(b"a teaching copy")
    [check] = [c for c in doctor.check_data() if "PneumoniaMNIST" in c.name]
    assert check.status == "NOTE" and "28 px on this computer" in check.detail and "64 px missing" in check.detail
    assert "unverified copy" in check.detail and "(28)" not in check.detail
    assert "28 px films, enlarged" in check.fix and "--size 64" in check.fix


# Bug caught: RADKIT_LOCAL_DATA pointing at a folder that does not exist was reported as "not set".
def test_local_data_pointing_nowhere_is_a_problem(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(tmp_path / "usb-stick"))
    checks = doctor.check_data_folders()
    assert [c.status for c in checks if c.name == "Pre-fetched data"] == ["PROBLEM"]
    doctor.doctor(checks)
    out = capsys.readouterr().out
    assert "not set" not in out and "no folder there" in out and str(tmp_path) not in out


# Bug caught: an uncreatable RADKIT_DATA crashed the report with a raw error.
def test_an_uncreatable_data_folder_is_a_problem_with_a_fix(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "a-file" / "data"))
    [check] = [c for c in doctor.check_data_folders() if c.name == "Data folder"]
    assert check.status == "PROBLEM" and "RADKIT_DATA" in check.fix
    assert doctor.check_disk().status == "NOTE"


# Bug caught: the report showed this computer's absolute paths and kernel version in notebook 00's output,
# and a stray `True` under the report.
def test_report_shows_no_machine_details_and_no_stray_true(capsys):
    import platform
    import sys
    from pathlib import Path

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    try:
        shell.user_ns["doctor"], shell.user_ns["checks"] = doctor.doctor, doctor.run_checks()
        shell.run_cell("doctor(checks)", store_history=True)
    finally:
        InteractiveShell.clear_instance()
    out = capsys.readouterr().out
    # (a terminal shell still prints an empty "Out[1]: " prompt; Jupyter sends nothing when there is no data)
    assert "RadKit" in out and "True" not in out and not re.search(r"Out\[\d+\]: *\S", out)
    assert platform.release() not in out and sys.executable not in out and str(Path.home()) + "/" not in out


def _installed(monkeypatch, versions: dict) -> None:
    """Pretend exactly these packages are installed (name -> version)."""
    from importlib import metadata

    def version(name):
        if name not in versions:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(doctor.metadata, "version", version)
    monkeypatch.setattr(doctor, "KEY_PACKAGES", ["tensorflow"])


# Bug caught: with the CPU-only build (the package tensorflow-cpu) doctor said "tensorflow: not installed";
# and two builds installed over each other (an older .venv upgraded by pip) went unnoticed.
def test_either_tensorflow_build_counts_but_not_both(monkeypatch):
    _installed(monkeypatch, {"tensorflow-cpu": "2.21.0"})
    [check] = doctor.check_packages()
    assert check.status in ("OK", "NOTE") and "2.21.0 (tensorflow-cpu)" in check.detail
    _installed(monkeypatch, {"tensorflow": "2.21.0"})
    [check] = doctor.check_packages()
    assert check.status in ("OK", "NOTE") and check.detail.startswith("2.21.0")
    _installed(monkeypatch, {"tensorflow": "2.21.0", "tensorflow-cpu": "2.21.0"})
    [check] = doctor.check_packages()
    assert check.status == "PROBLEM" and "tensorflow-cpu" in check.detail and "run.py" in check.fix
    _installed(monkeypatch, {})
    [check] = doctor.check_packages()
    assert check.status == "PROBLEM" and check.detail == "not installed"
