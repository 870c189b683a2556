"""The course builds as a wheel under its own PyPI name and works installed outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# Catches: publishing under "radkit", a PyPI name held by an unrelated project (photon cross-sections),
# so that `pip install radkit` would install the wrong thing.
def test_distribution_name_is_not_the_taken_one():
    assert _pyproject()["project"]["name"] == "radkit-course"


# Catches: a wheel that leaves out the web app or the shipped checkpoint (package data), or that
# only works from inside the checkout; and a `radkit` command that is not installed with it.
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    # Build from a clean copy: a build/ folder left by an earlier build would hide what the wheel leaves out.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "artifacts", "__pycache__", "data-cache"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=300)
    if build.returncode != 0 and "No matching distribution found for setuptools" in build.stderr:
        pytest.skip("building a wheel needs setuptools>=77 from PyPI, which this machine cannot reach")
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("radkit_course-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {str(p.relative_to(ROOT)).replace(os.sep, "/")
               for folder in ("webapp", "pretrained") for p in (ROOT / "radkit" / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped and shipped <= set(names), sorted(shipped - set(names))
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    # Run from an empty folder with only the installed copy on the path (the dependencies come from this venv).
    env = {**os.environ, "PYTHONPATH": str(target), "RADKIT_DATA": str(tmp_path / "data")}
    env.pop("RADKIT_LOCAL_DATA", None)
    where = subprocess.run([sys.executable, "-c", "import radkit; print(radkit.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(target), where.stderr
    doctor = subprocess.run([sys.executable, "-m", "radkit", "doctor"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert "RadKit" in doctor.stdout and "Traceback" not in doctor.stderr, doctor.stdout + doctor.stderr
    assert (target / "bin" / "radkit").is_file()  # the console script comes with the wheel


# Catches: a package docstring that names 12 of its modules, and a lazy-loading list that misses new ones
# (``radkit.own_images`` would then raise AttributeError).
def test_every_module_is_named_in_the_package_docstring_and_loads_lazily():
    import re

    import radkit

    named = set(re.findall(r"``(\w+)``", radkit.__doc__))
    modules = {p.stem for p in (ROOT / "radkit").iterdir()
               if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert modules - named == set(), f"modules the docstring of radkit/__init__.py does not name: {modules - named}"
    assert modules <= radkit._SUBMODULES
