"""What a learner reads under a cell is plain: no bare Python reprs in the stored outputs of solutions/.

A beginner cannot read ``np.float32(1.0)`` or ``<matplotlib.legend.Legend at 0x7f...>``: numbers print as
numbers, and a cell whose last line returns an object (a legend, a widget) ends with ``;`` or a call that
shows it. Figures themselves are fine: their text form travels beside the picture and is never shown.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
BARE = re.compile(r"\bnp\.(?:float|int|uint|bool)\w*\(|<[\w.]+ (?:object )?at 0x[0-9a-f]+>")
RICH = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "application/vnd.jupyter.widget-view+json")


def bare_reprs(outputs) -> list[str]:
    """The bare reprs a learner would see in these outputs (text shown alone, not beside a picture)."""
    found = []
    for output in outputs:
        if output.get("output_type") == "stream":
            text = output.get("text", "")
        elif output.get("output_type") in ("execute_result", "display_data"):
            data = output.get("data", {})
            if any(kind in data for kind in RICH):
                continue
            text = data.get("text/plain", "")
        else:
            continue
        text = "".join(text) if isinstance(text, list) else text
        found += [text[max(0, m.start() - 40):m.end()].strip() for m in BARE.finditer(text)]
    return found


def test_bare_reprs_are_found():
    """The scanner sees both kinds of repr it guards against, and leaves a figure's text form alone."""
    stream = nbformat.v4.new_output("stream", text="voxel size (mm): (np.float32(1.0), 1.0)\n")
    legend = nbformat.v4.new_output("execute_result", data={"text/plain": "<matplotlib.legend.Legend at 0x7f20>"})
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure at 0x7f20>", "image/png": "AA=="})
    assert len(bare_reprs([stream, legend, figure])) == 2
    assert bare_reprs([nbformat.v4.new_output("stream", text="voxel size (mm): (1.0, 1.0, 1.0)\n")]) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_bare_reprs_in_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    found = [(index, text) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for text in bare_reprs(cell.get("outputs", []))]
    assert not found, f"bare Python reprs a learner would see (cell index, text): {found}"
