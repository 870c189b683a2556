"""run.py: the one command a clinician types.

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
    monkeypatch.setattr(module, "ensure_python_packages", lambda *extras: Path(sys.executable))
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


@pytest.fixture
def install_steps(monkeypatch, tmp_path):
    """run.py's set-up step against a pretend .venv: returns (module, commands run, TensorFlow builds "installed")."""
    spec = importlib.util.spec_from_file_location("radkit_run_py_setup", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / ".venv"
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "STAMP", venv / ".radkit-installed")
    monkeypatch.setattr(module, "venv_python", lambda: python)
    ran, builds = [], []

    def run(command, **kwargs):
        command = [str(c) for c in command]
        ran.append(command)
        if command[3:4] == ["uninstall"]:
            builds[:] = [b for b in builds if b not in command]
        elif command[3:4] == ["install"] and "--no-deps" in command:
            builds.append(command[-1].split("==")[0])
        elif command[3:4] == ["install"] and "-e" in command:  # what pip would install from pyproject's markers
            builds.append("tensorflow-cpu" if module.tensorflow_build() == "tensorflow-cpu" else "tensorflow")
            if "gpu" in command[-1]:
                builds.append("tensorflow")
            builds[:] = list(dict.fromkeys(builds))

    monkeypatch.setattr(module, "run", run)
    monkeypatch.setattr(module, "installed_tensorflow_builds", lambda python: list(builds))
    return module, ran, builds


def _installs(ran) -> list[str]:
    return [command[-1].replace(str(ROOT), "ROOT") for command in ran if "-e" in command]


# Bug caught: `python3 run.py course` installed `.[test]`, and with it pytest, nbval and a whole JupyterHub,
# on every learner's laptop.
def test_the_course_installs_the_course_and_the_tests_add_their_tools(install_steps):
    module, ran, _ = install_steps
    module.ensure_python_packages()
    assert _installs(ran) == ["ROOT"]
    ran.clear()
    module.ensure_python_packages()  # nothing changed: nothing to install
    assert ran == []
    module.ensure_python_packages("test")
    assert _installs(ran) == ["ROOT[test]"]
    ran.clear()
    module.ensure_python_packages()  # the course after the tests: already there
    assert ran == []
    module.STAMP.write_text(json.dumps({"fingerprint": "older files", "extras": ["test"]}))
    module.ensure_python_packages()  # an update keeps the test tools it had
    assert _installs(ran) == ["ROOT[test]"]


def test_pyproject_picks_one_tensorflow_per_platform_as_run_py_does():
    """The markers in pyproject.toml and run.py's tensorflow_build() must agree, for every platform."""
    from pip._vendor.packaging.requirements import Requirement

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    spec = importlib.util.spec_from_file_location("radkit_run_py_markers", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for system, machine, expected in [("linux", "x86_64", "tensorflow-cpu"), ("win32", "AMD64", "tensorflow-cpu"),
                                      ("darwin", "arm64", "tensorflow"), ("darwin", "x86_64", "tensorflow"),
                                      ("linux", "aarch64", "tensorflow"), ("win32", "ARM64", "tensorflow")]:
        environment = {"sys_platform": system, "platform_machine": machine, "extra": ""}
        chosen = [r.name for r in requirements if r.name.startswith("tensorflow")
                  and (r.marker is None or r.marker.evaluate(environment))]
        assert chosen == [expected], (system, machine, chosen)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(module.sys, "platform", system)
            patch.setattr(module.platform, "machine", lambda: machine)
            assert module.tensorflow_build() == expected
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert "tensorflow==2.21.0" in lock and "tensorflow-cpu==2.21.0" in lock
    assert "pooch==" not in "\n".join(lock) and any(r.name == "requests" for r in requirements)


# Bug caught (the CAUTION of the lean install): an older .venv holds the standard `tensorflow`; pip would add
# `tensorflow-cpu` over the same files and keep both. The update must end with exactly one build.
def test_an_older_venv_ends_with_one_tensorflow(install_steps, monkeypatch):
    module, ran, builds = install_steps
    monkeypatch.setattr(module, "tensorflow_build", lambda gpu=False: "tensorflow" if gpu else "tensorflow-cpu")
    builds[:] = ["tensorflow"]
    module.STAMP.write_text("an older run.py's bare fingerprint")
    module.ensure_python_packages()
    assert builds == ["tensorflow-cpu"]
    assert ["uninstall", "--yes", "--quiet", "tensorflow"] == ran[1][3:]  # before installing the CPU build
    assert _installs(ran) == ["ROOT[test]"]  # the older .venv had the test tools: kept
    ran.clear()
    module.ensure_python_packages("gpu")  # [gpu] brings the standard build beside the CPU one: one stays
    assert builds == ["tensorflow"]
    assert ran[-1][-1] == f"tensorflow=={module.tensorflow_version()}" and "--no-deps" in ran[-1]


def test_quick_lane_leaves_out_notebooks_browser_hub_and_slow_tests(run_py):
    python = Path(sys.executable)
    quick = run_py.test_command(python, [], quick=True)
    assert quick[quick.index("-m", 2) + 1] == "not notebook and not browser and not hub and not slow"
    assert "tests" in quick and "solutions" not in quick
    full = run_py.test_command(python, [], quick=False)
    assert "solutions" in full and "not notebook" not in " ".join(map(str, full))
    assert run_py.test_command(python, ["tests/test_data.py", "-x"], quick=False)[-2:] == ["tests/test_data.py", "-x"]


# Catches: a README that grew to 53 KB of results and history, and commands in it that run.py does not know.
def test_readme_is_one_screen_and_its_commands_exist(run_py):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme) < 12_000, f"README.md is {len(readme):,} characters: move detail to docs/"
    assert "python3 run.py test" in readme  # CI runs exactly this command (.ci/run)
    actions = set(re.findall(r"run\.py (\w+)", readme))
    assert actions and actions <= {"course", "test", "doctor", "fetch", "pack"}, actions
    for history in (r"\bissue \d+", r"this machine", r"no internet here"):
        assert not re.search(history, readme, re.I), f"project history in README.md: {history}"
    for link in re.findall(r"\]\(([^)#:]+)[)#]", readme):
        assert (ROOT / link).exists(), f"README.md links to a missing file: {link}"


# Catches: a quick lane that still runs notebooks, the browser or the hub (or that skips plain unit tests):
# the markers come from tests/conftest.py by file and kind.
def test_tests_are_marked_by_kind(tmp_path):
    from types import SimpleNamespace

    import conftest

    class IPyNbCell(SimpleNamespace):  # what nbval collects from a notebook
        pass

    def kinds(path, name="test_something", item_type=SimpleNamespace):
        return conftest.kinds(item_type(fspath=path, name=name))

    assert kinds(ROOT / "solutions" / "02_first_classifier.ipynb", "Cell 3", IPyNbCell) == {"notebook"}
    assert kinds(ROOT / "tests" / "test_walkthrough.py", "test_learner_walkthrough[02.ipynb]") == {"notebook"}
    runner = tmp_path / "test_new_notebook_runner.py"
    runner.write_text("from nbclient import NotebookClient\n")
    assert kinds(runner) == {"notebook"}  # a new file that runs notebooks is found by what it calls
    assert kinds(ROOT / "tests" / "test_browser_dicom.py") == {"browser"}
    assert kinds(ROOT / "tests" / "test_hub.py") == {"hub"}
    assert kinds(ROOT / "tests" / "test_wheel.py", "test_wheel_installs_and_runs_outside_the_checkout") == {"slow"}
    assert kinds(ROOT / "tests" / "test_wheel.py", "test_distribution_name_is_not_the_taken_one") == set()
    assert kinds(ROOT / "tests" / "test_data.py", "test_load_pneumonia[28]") == set()


def test_every_listed_slow_test_exists():
    import conftest

    stale = [entry for entry in sorted(conftest.SLOW_TESTS)
             if not (ROOT / "tests" / entry.split("::")[0]).is_file()
             or f"def {entry.split('::')[1]}(" not in (ROOT / "tests" / entry.split("::")[0]).read_text()]
    assert not stale, f"tests/conftest.py lists slow tests that do not exist (renamed?): {stale}"
