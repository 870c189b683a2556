"""Nothing private in notebook outputs (issue 12, section 6).

Stored outputs of solutions/ are shared with every learner (course/ is built from them, and they are
on GitHub), so they must not show environment variables, TensorFlow's warnings (one of them printed
the whole environment, tokens included), or this machine's absolute paths and kernel version. The same
check runs on the live outputs of every cell nbval executes (the hook in conftest.py), so a leak fails
CI without executing any notebook a second time.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, privacy_leaks

NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _stream(text: str) -> list[dict]:
    return [{"output_type": "stream", "name": "stdout", "text": text}]


# Bug caught: a scanner that misses a kind of leak (each case here is one that was really seen in outputs).
@pytest.mark.parametrize("text", [
    "WARNING:tensorflow:AutoGraph could not transform <bound method _Environ.setdefault of environ({'HOME': 'x'})>",
    "environ({'GITHUB_TOKEN': 'x'})",
    f"RadKit 0.1.0 ready | data folder: {Path.home()}/.cache/radkit",
    f"wrote {ROOT}/course/00_start_here.ipynb",
    f"saved to {tempfile.gettempdir()}/radkit-test-data-abc/models/first.keras",
    "CPU  2 core(s), x86_64, Linux " + platform.release(),
    "File /home/alice/project/x.py, line 3",
    "C:\\Users\\alice\\AppData\\Local\\radkit",
    f"python at {sys.prefix}/bin/python",
])
def test_the_scanner_finds_each_kind_of_leak(text):
    assert privacy_leaks(_stream(text)), text
    assert privacy_leaks([{"output_type": "execute_result", "data": {"text/plain": text}}])
    assert privacy_leaks([{"output_type": "error", "ename": "E", "evalue": "", "traceback": [text]}])


# Bug caught: a scanner so eager that it fails on what radkit prints on purpose, or on picture data.
def test_the_scanner_accepts_what_radkit_prints_on_purpose():
    clean = ["RadKit 0.1.0 ready | mode: full | seed: 42 | data folder: ~/.cache/radkit",
             "Saved: <data folder>/models/first_classifier.keras", "Serving .../site at http://127.0.0.1:8123/",
             "Epoch 3/5: loss 0.31"]
    assert privacy_leaks(_stream("\n".join(clean))) == []
    picture = {"output_type": "display_data", "data": {"image/png": "iVBOR/tmp/" + "A" * 50, "text/plain": "<Figure>"}}
    assert privacy_leaks([picture]) == []


# The stored outputs of every solution notebook (they become what learners see on GitHub).
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_stored_notebook_outputs_show_nothing_private(notebook):
    nb = nbformat.read(notebook, as_version=4)
    leaks = [f"cell {i}: {leak}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for leak in privacy_leaks(cell.get("outputs", []))]
    assert not leaks, f"{notebook.name} shows private text (re-run it after the fix):\n" + "\n".join(leaks[:10])


# Bug caught: a hook that never runs on nbval's cells (then only stored outputs would be checked).
def test_nbval_run_fails_a_cell_whose_live_output_leaks(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello')"),
                nbformat.v4.new_code_cell("import os\nprint(os.environ)")]
    nbformat.write(nb, tmp_path / "leak.ipynb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "--nbval-lax", "-q",
                             "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "leak.ipynb")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "1 failed, 1 passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    assert "environment variables" in result.stdout


# Catches: describe() printing the dataset file's absolute path ("From: /home/me/...") into every notebook.
def test_describe_shows_the_dataset_file_relative_to_the_data_folders(tmp_path, monkeypatch, capsys):
    import numpy as np

    from radkit import data

    folder = tmp_path / "usb-stick"
    (folder / "pneumoniamnist").mkdir(parents=True)
    path = folder / "pneumoniamnist" / "pneumoniamnist.npz"
    arrays = {f"{s}_images": np.zeros((4, 28, 28), np.uint8) for s in ("train", "val", "test")}
    arrays.update({f"{s}_labels": np.array([0, 1, 0, 1]) for s in ("train", "val", "test")})
    np.savez(path, **arrays)
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(folder))
    data.load_medmnist(path).describe()
    out = capsys.readouterr().out
    assert "From: <RADKIT_LOCAL_DATA>/pneumoniamnist/pneumoniamnist.npz" in out and str(tmp_path) not in out
