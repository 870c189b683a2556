"""Figures read right: the layout check finds titles and legends drawn over each other, and the course's
stored figures have none (``radkit.setup()`` prints "Figure check: ..." under any figure that has one)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

from radkit.figure_check import problems  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def test_a_clean_figure_has_no_problem():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot([0, 1, 2], [0, 1, 2], "o", label="films")
    axes[0].legend(loc="lower right")
    axes[0].set_title("left")
    axes[1].set_title("right")
    fig.suptitle("Two panels")
    fig.tight_layout()
    assert problems(fig) == []
    plt.close(fig)


def test_titles_drawn_over_each_other_and_a_suptitle_over_a_panel():
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    axes[0].set_title("a long title on the left panel")
    axes[1].set_title("a long title on the right panel")
    fig.suptitle("Overall", y=0.8)
    found = problems(fig)
    assert any("drawn over each other" in p for p in found)
    assert any("covers panel" in p for p in found)
    plt.close(fig)


def test_a_legend_over_a_row_of_results():
    """As in a subgroup chart: the legend in the corner hides the top row's marker."""
    fig, ax = plt.subplots()
    ax.errorbar([0.1, 0.5, 0.9], [2, 1, 0], xerr=0.05, fmt="o", label="AUC")
    ax.legend(loc="upper left")
    assert any("hides" in p for p in problems(fig))
    ax.legend(loc="lower left")
    assert not any("hides" in p for p in problems(fig))
    plt.close(fig)


def test_a_key_over_a_picture_is_allowed():
    import numpy as np

    fig, ax = plt.subplots()
    ax.imshow(np.zeros((10, 10)))
    ax.plot([], [], color="red", label="outline")
    ax.legend(loc="upper left")
    assert problems(fig) == []
    plt.close(fig)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_figures_read_right(notebook):
    nb = nbformat.read(notebook, as_version=4)
    found = [(index, line) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for output in cell.get("outputs", []) if output.get("output_type") == "stream"
             for line in "".join(output.get("text", "")).splitlines() if line.startswith("Figure check:")]
    assert not found, f"figures that read wrong (cell index, problem): {found}"
