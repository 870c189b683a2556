"""run.py: the one command a clinician types (issue 9, section 5).

These tests call run.py's own functions with the Python that runs the tests, so they never create or
reinstall a .venv (run.py's set-up step is replaced where it would run).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_py(monkeypatch):
    spec = importlib.util.spec_from_file_location("radkit_run_py", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ensure_python_packages", lambda: Path(sys.executable))
    return module


def _commands(run_py, monkeypatch, argv) -> list[list[str]]:
    ran = []
    monkeypatch.setattr(run_py, "run", lambda command, **kwargs: ran.append([str(c) for c in command]))
    monkeypatch.setattr(run_py, "install_lab_settings", lambda *a: None)
    monkeypatch.setattr(sys, "argv", ["run.py", *argv])
    monkeypatch.chdir(ROOT)
    run_py.main()
    return ran


# Bug caught: as root, `python3 run.py course` stopped with JupyterLab's "Running as root is not recommended".
def test_course_passes_allow_root_only_for_root(run_py, monkeypatch, capsys):
    monkeypatch.setattr(run_py, "running_as_root", lambda: True)
    [command] = _commands(run_py, monkeypatch, ["course"])
    assert command.count("--allow-root") == 1 and "--allow-root" in capsys.readouterr().out
    [command] = _commands(run_py, monkeypatch, ["course", "--allow-root"])
    assert command.count("--allow-root") == 1
    monkeypatch.setattr(run_py, "running_as_root", lambda: False)
    [command] = _commands(run_py, monkeypatch, ["course"])
    assert "--allow-root" not in command and "--LabApp.news_url=None" in command


# Bug caught: `radkit doctor` / `radkit fetch` are not on the PATH outside .venv, and run.py had no fetch.
def test_doctor_and_fetch_run_the_radkit_command(run_py, monkeypatch):
    [doctor] = _commands(run_py, monkeypatch, ["doctor"])
    assert doctor == [sys.executable, "-m", "radkit", "doctor"]
    [fetch] = _commands(run_py, monkeypatch, ["fetch", "pneumoniamnist", "--size", "28"])
    assert fetch == [sys.executable, "-m", "radkit", "fetch", "pneumoniamnist", "--size", "28"]


def test_the_fetch_command_run_py_builds_really_works(run_py, monkeypatch, shared_data, tmp_path):
    [fetch] = _commands(run_py, monkeypatch, ["fetch", "pneumoniamnist", "--size", "28"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RADKIT_LOCAL_DATA": str(shared_data),
           "RADKIT_DATA": str(tmp_path / "data")}
    result = subprocess.run(fetch, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and "PneumoniaMNIST, 28 px" in result.stdout, result.stderr[-1000:]


# Bug caught: a settings file run.py would overwrite although someone else wrote it.
def test_lab_settings_are_written_once_and_never_over_someone_elses(run_py, tmp_path):
    path = run_py.install_lab_settings(tmp_path)
    assert json.loads(path.read_text())["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    path.write_text('{"my": "settings"}')
    run_py.install_lab_settings(tmp_path)
    assert path.read_text() == '{"my": "settings"}'


# Bug caught: the course's Lab does not start (e.g. as root), or greets learners with the news question and
# fetches from the internet. Starts the exact command run.py builds on 127.0.0.1 without a browser, fetches
# /lab, checks news and update checks are off, and always stops it (bounded: 120 s at most).
def test_run_py_course_serves_lab_with_news_and_update_checks_off(run_py, tmp_path, capsys):
    prefix = tmp_path / "venv"
    settings = run_py.install_lab_settings(prefix).parent
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "radkit-test-token"
    command = run_py.lab_command(Path(sys.executable), [
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--LabApp.app_settings_dir={settings}"])
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "lab.log"
    with open(log, "w") as log_file:  # a file, not a pipe: a full pipe would stall the server
        server = subprocess.Popen([str(c) for c in command], cwd=ROOT, env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        page, deadline = None, time.monotonic() + 120
        while page is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=5) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None, "JupyterLab did not serve /lab:\n" + (
            log.read_text()[-3000:] if server.poll() is not None else "still starting after 120 s")
        assert "jupyter-config-data" in page
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))
        assert config["news"] == {"disabled": True}
        headers = {"Authorization": f"token {token}"}
        request = urllib.request.Request(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            notification = json.loads(response.read())
        # The shipped settings become the defaults (the learner has changed nothing).
        defaults = notification["schema"]["properties"]
        assert defaults["fetchNews"]["default"] == "false" and defaults["checkForUpdates"]["default"] is False
        assert notification["settings"] == {}
        request = urllib.request.Request(f"{base}/lab/api/update", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["notification"] is None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
