"""Set up RadKit and open the course, or run every test. Needs only Python 3.11-3.13.

    python3 run.py course    # set up the course (first time: a few minutes), then open JupyterLab
    python3 run.py test      # set up the course and its test tools, then run every test (what CI runs)
    python3 run.py test --quick                 # only the quick tests: no notebooks, browser, hub or slow ones
    python3 run.py test tests/test_data.py -x   # set up, then run only some tests
    python3 run.py course --gpu                 # Linux with an NVIDIA GPU: TensorFlow's GPU build instead
    python3 run.py doctor    # set up, then check this computer is ready
    python3 run.py fetch pneumoniamnist --size 28 --size 64   # download datasets now (before a workshop)
    python3 run.py pack /media/usb/radkit-pack   # every dataset file in one folder for a workshop (INSTRUCTORS.md)

On Windows type ``py run.py course``. Safe to run again: it installs only
what changed. Everything goes into a private folder ``.venv`` inside the
project, so no administrator rights are needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".radkit-installed"
SHARED_DATA = ROOT.parent / "shared" / "data"
# The course promises that nothing is sent anywhere: JupyterLab's news feed and update check stay off
# (no "Would you like to get notified about official Jupyter news?"). Both the server side (below, as
# command-line settings) and the page's own setting (this file, in the course's .venv).
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
# The quick lane: everything but the tests that run notebooks, a browser, a hub, or take long.
QUICK = "not notebook and not browser and not hub and not slow"
LAB_OPTIONS = ["--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"]


def say(message: str) -> None:
    print(f"[radkit] {message}", flush=True)


def run(command: list, **kwargs) -> None:
    """Run a command, stopping with a plain message if it fails."""
    result = subprocess.run([str(c) for c in command], **kwargs)
    if result.returncode != 0:
        say(f"This step failed (exit code {result.returncode}): {' '.join(str(c) for c in command)}")
        sys.exit(result.returncode)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def tensorflow_build(gpu: bool = False) -> str:
    """Which TensorFlow package this computer gets: the CPU-only build where it is published (pyproject.toml)."""
    cpu_only = sys.platform in ("linux", "win32") and platform.machine() in ("x86_64", "AMD64")
    return "tensorflow-cpu" if cpu_only and not gpu else "tensorflow"


def installed_tensorflow_builds(python: Path) -> list[str]:
    """The TensorFlow packages in .venv (tensorflow, tensorflow-cpu): both install the same files."""
    code = ("from importlib import metadata\n"
            "for name in ('tensorflow', 'tensorflow-cpu'):\n"
            "    try: metadata.version(name); print(name)\n"
            "    except metadata.PackageNotFoundError: pass")
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return result.stdout.split()


def keep_one_tensorflow(python: Path, wanted: str, install: bool) -> None:
    """Leave exactly one TensorFlow build in .venv. An older .venv has the standard build; installing the
    CPU build beside it would overwrite half its files, so the other build (and, when both are there, both)
    are uninstalled first; with ``install``, the wanted one is then installed again on its own."""
    found = installed_tensorflow_builds(python)
    if not any(name != wanted for name in found):
        return
    say(f"Replacing {' and '.join(found)} with {wanted} (they share files; only one can stay) ...")
    run([python, "-m", "pip", "uninstall", "--yes", "--quiet", *found])
    if install:
        run([python, "-m", "pip", "install", "--quiet", "--no-deps", "-c", ROOT / "requirements.lock",
             f"{wanted}=={tensorflow_version()}"])


def tensorflow_version() -> str:
    """The TensorFlow version requirements.lock pins."""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.startswith("tensorflow=="):
            return line.split("==")[1].strip()
    raise SystemExit("[radkit] requirements.lock pins no tensorflow version.")


def read_stamp() -> tuple[str, set]:
    """What the last set-up installed: the fingerprint of its files and its extras (e.g. {"test"})."""
    if not STAMP.exists():
        return "", set()
    text = STAMP.read_text()
    try:
        stamp = json.loads(text)
        return stamp["fingerprint"], set(stamp["extras"])
    except (ValueError, KeyError, TypeError):  # an older run.py wrote the bare fingerprint of a `.[test]` install
        return text.strip(), {"test"}


def fingerprint(*files: str) -> str:
    digest = hashlib.sha256(platform.python_version().encode())
    for name in files:
        path = ROOT / name
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


def ensure_python_packages(*extras: str) -> Path:
    """Create .venv and install radkit with its pinned dependencies (only when something changed).
    ``extras``: "test" (pytest, nbval, the hub: contributors and CI), "gpu". The course alone needs none."""
    if not (3, 11) <= sys.version_info[:2] <= (3, 13):
        say(f"RadKit needs Python 3.11, 3.12 or 3.13; this is {platform.python_version()}. "
            "Install Python 3.11 from python.org and run this again with it.")
        sys.exit(1)
    python = venv_python()
    if not python.exists():
        say("Creating a private Python environment in .venv (once) ...")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    wanted = fingerprint("pyproject.toml", "requirements.lock")
    done, had = read_stamp()
    if done == wanted and set(extras) <= had:
        return python
    extras = sorted(set(extras) | had)  # an update keeps what was installed before (e.g. the test tools)
    tensorflow = tensorflow_build(gpu="gpu" in extras)
    say("Installing the course's Python packages (first time: a few minutes) ...")
    run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    keep_one_tensorflow(python, tensorflow, install=False)
    target = f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT)
    run([python, "-m", "pip", "install", "--quiet", "-c", ROOT / "requirements.lock", "-e", target])
    keep_one_tensorflow(python, tensorflow, install=True)  # [gpu] brings the standard build beside the CPU one
    STAMP.write_text(json.dumps({"fingerprint": wanted, "extras": extras}))
    return python


def can_install_system_packages() -> bool:
    return shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_browser_tools() -> None:
    """For the browser tests: Node.js packages (TensorFlow.js, playwright-core) and Debian's Chromium."""
    missing = [name for name in ("node", "npm") if shutil.which(name) is None]
    needs_chromium = shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists()
    packages = (["nodejs", "npm"] if missing else []) + (["chromium"] if needs_chromium else [])
    if packages:
        if not can_install_system_packages():
            say(f"Not installed: {', '.join(packages)}. The browser tests will be skipped. "
                "(On Debian/Ubuntu as root they are installed automatically.)")
            return
        say(f"Installing {', '.join(packages)} from Debian's packages (once) ...")
        run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            stdout=subprocess.DEVNULL, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if (ROOT / "package.json").exists():
        stamp = ROOT / "node_modules" / ".radkit-installed"
        wanted = fingerprint("package.json", "package-lock.json")
        if not (stamp.exists() and stamp.read_text() == wanted):
            say("Installing the JavaScript packages for the browser app (once) ...")
            run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT)
            stamp.write_text(wanted)


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def install_lab_settings(prefix: Path = VENV) -> Path:
    """Write the news/update-check settings into the course's own JupyterLab (inside .venv, which run.py made)."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    wanted = json.dumps(LAB_OVERRIDES, indent=2) + "\n"
    if path.exists():
        if path.read_text(encoding="utf-8") != wanted:  # someone's own settings: never overwritten
            say(f"Note: {path.name} in the course's JupyterLab holds other settings; it is left as it is.")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted, encoding="utf-8")
    return path


def lab_command(python: Path, extra: list) -> list:
    """The command that opens the course in JupyterLab (news and update checks off; --allow-root for root)."""
    command = [python, "-m", "jupyter", "lab", "course", *LAB_OPTIONS]
    if running_as_root() and "--allow-root" not in extra:
        say("Running as root (a container or a server): passing --allow-root to JupyterLab.")
        command.append("--allow-root")
    return [*command, *extra]


def main() -> None:
    action = sys.argv[1] if len(sys.argv) > 1 else "course"
    extra = sys.argv[2:]
    if action not in ("course", "test", "doctor", "fetch", "pack"):
        print(__doc__)
        sys.exit(2)
    gpu = "--gpu" in extra
    extra = [word for word in extra if word != "--gpu"]
    quick = action == "test" and "--quick" in extra
    extra = [word for word in extra if not (quick and word == "--quick")]
    python = ensure_python_packages(*["test"] * (action == "test"), *["gpu"] * gpu)
    env = dict(os.environ)
    if action == "course":
        install_lab_settings()
        say("Opening the course in JupyterLab. Start with 00_start_here.ipynb. Stop with Ctrl+C.")
        os.chdir(ROOT)
        run(lab_command(python, extra), env=env)
    elif action in ("doctor", "fetch", "pack"):  # the radkit command, without needing it on the PATH
        run([python, "-m", "radkit", action, *extra], env=env)
    else:
        ensure_browser_tools()
        env.setdefault("RADKIT_FAST", "1")
        if SHARED_DATA.is_dir():
            env.setdefault("RADKIT_LOCAL_DATA", str(SHARED_DATA))
            say(f"Real test data found: {SHARED_DATA}")
        run(test_command(python, extra, quick), cwd=ROOT, env=env)


def test_command(python: Path, extra: list, quick: bool) -> list:
    """pytest with nbval; ``quick``: only the unit tests (the markers are set in tests/conftest.py)."""
    has_targets = any(not word.startswith("-") for word in extra)
    targets = [] if has_targets else ["tests"] if quick else ["tests", "solutions"]
    selection = ["-m", QUICK] if quick else []
    return [python, "-m", "pytest", "--nbval-lax", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
            *selection, *targets, *extra]


if __name__ == "__main__":
    main()
