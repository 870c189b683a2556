"""The container image files (repo2docker's postBuild and start) and the hub configuration files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _clean_env(tmp: Path) -> dict:
    """A new, empty virtual environment that sees the course's packages only through a .pth file,
    so that whatever postBuild installs lands in it and nowhere else."""
    env_dir = tmp / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    (site / "course.pth").write_text(f"{sysconfig.get_path('purelib')}\n{ROOT}\n")
    return {**{k: v for k, v in os.environ.items() if not k.startswith("RADKIT_")},
            "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp / "home"),
            "CONDA_DIR": str(tmp / "conda"), "VIRTUAL_ENV": str(env_dir)}


def _run(script: str, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / script), *args], env=env, capture_output=True, text=True, timeout=600)


# Catches: a postBuild that fails on an offline build (instead of carrying on with the phantoms), or that
# leaves JupyterLab fetching news and update checks in the image.
@pytest.mark.skipif(sys.platform == "win32", reason="repo2docker scripts are bash")
def test_postbuild_offline_in_a_clean_environment(tmp_path):
    env = {**_clean_env(tmp_path), "RADKIT_OFFLINE": "1"}
    result = _run("postBuild", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "practice phantoms" in result.stdout
    overrides = tmp_path / "env" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"]
    assert settings == {"fetchNews": "false", "checkForUpdates": False}
    assert not (tmp_path / "conda" / "share" / "radkit-pack").exists()


# Catches: an image whose baked data pack is missing or unverified, or a start script that does not
# point radkit at it (learners would then download in the room, or fall back to phantoms).
@pytest.mark.realdata
def test_postbuild_bakes_a_pack_and_start_uses_it(tmp_path, shared_data):
    env = {**_clean_env(tmp_path), "RADKIT_LOCAL_DATA": str(shared_data)}  # stands in for the download
    result = _run("postBuild", env)
    assert result.returncode == 0, result.stdout + result.stderr
    pack = tmp_path / "conda" / "share" / "radkit-pack"
    manifest = json.loads((pack / "radkit-pack.json").read_text())
    assert any(e["path"] == "pneumoniamnist/pneumoniamnist.npz" for e in manifest["files"])
    env.pop("RADKIT_LOCAL_DATA")
    shown = _run("start", env, "env").stdout
    assert f"RADKIT_LOCAL_DATA={pack}" in shown.splitlines()
    mine = _run("start", {**env, "RADKIT_LOCAL_DATA": "/somewhere/else"}, "env").stdout
    assert "RADKIT_LOCAL_DATA=/somewhere/else" in mine.splitlines()  # a hub's own pack wins
