"""Checks that a figure reads right: no title, legend or panel drawn over another, no legend over the data.

``radkit.setup()`` turns the check on for the notebook: each figure is checked as it is shown, and a
problem is printed under the cell in one line ("Figure check: ..."). The course's own notebooks must
never print one (a test reads their stored outputs); a learner's own figures get the same advice.
"""

from __future__ import annotations

_PREFIX = "Figure check:"


def _text_boxes(fig, renderer) -> list[tuple[str, object]]:
    """The titles a reader reads: the figure's overall title and each panel's titles, with their boxes."""
    boxes = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_visible() and suptitle.get_text().strip():
        boxes.append((f"the figure title '{suptitle.get_text().strip()}'", suptitle.get_window_extent(renderer)))
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for title in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None)):
            if title is not None and title.get_visible() and title.get_text().strip():
                boxes.append((f"the title '{title.get_text().strip()}'", title.get_window_extent(renderer)))
    return boxes


def _legends(fig) -> list:
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    return [legend for legend in legends if legend.get_visible()]


def _points_under(legend, renderer) -> int:
    """How many plotted points (lines, markers, scatter dots, error bars) of the legend's panel lie under it."""
    import numpy as np

    ax = legend.axes if legend.axes is not None else None
    if ax is None:
        return 0
    box = legend.get_window_extent(renderer)
    count = 0
    artists = [line for line in ax.get_lines() if line.get_visible()]
    for line in artists:
        xy = np.column_stack(line.get_data(orig=False)).astype(float)
        if len(xy):
            xy = line.get_transform().transform(xy)
            count += int(np.sum((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)))
    for collection in ax.collections:
        if not collection.get_visible():
            continue
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        if offsets.ndim == 2 and len(offsets) and collection.get_offset_transform() is not None:
            xy = collection.get_offset_transform().transform(offsets)
            count += int(np.sum((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)))
    return count


def problems(fig) -> list[str]:
    """What makes this figure hard to read, in plain words (an empty list when nothing does).

    Looks for: two titles drawn over each other, the figure title over a panel, a legend over a title,
    and a legend hiding plotted points. Pictures under a legend (an overlay's key) are allowed.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    titles = _text_boxes(fig, renderer)
    for i, (name_a, box_a) in enumerate(titles):
        for name_b, box_b in titles[i + 1:]:
            if box_a.overlaps(box_b):
                found.append(f"{name_a} and {name_b} are drawn over each other")
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_visible() and suptitle.get_text().strip():
        box = suptitle.get_window_extent(renderer)
        for index, ax in enumerate(fig.axes):
            if ax.get_visible() and ax.axison and box.overlaps(ax.get_window_extent(renderer)):
                found.append(f"the figure title '{suptitle.get_text().strip()}' covers panel {index + 1}")
    for legend in _legends(fig):
        box = legend.get_window_extent(renderer)
        for name, title_box in titles:
            if box.overlaps(title_box):
                found.append(f"a legend covers {name}")
        hidden = _points_under(legend, renderer)
        if hidden:
            found.append(f"a legend hides {hidden} plotted point{'s' if hidden > 1 else ''} (move it: "
                         "ax.legend(loc=...) or bbox_to_anchor outside the panel)")
    return found


def report(fig) -> None:
    """Print one line per problem of ``fig`` (nothing when it reads right)."""
    try:
        found = problems(fig)
    except Exception:  # a figure the check cannot measure is shown as it is
        return
    for problem in found:
        print(f"{_PREFIX} {problem}.")


def watch_figures() -> bool:
    """Check every figure as the notebook shows it (called by ``radkit.setup()``). False outside Jupyter."""
    try:
        import matplotlib.pyplot as plt
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    plt.switch_backend(plt.get_backend())  # load the notebook's backend now: it registers how figures are shown
    formatter = shell.display_formatter.formatters.get("image/png")
    if formatter is None:
        return False
    try:
        shown = formatter.lookup_by_type(Figure)
    except KeyError:
        return False
    if getattr(shown, "_radkit_checked", False):
        return True

    def checked(fig, *args, **kwargs):
        report(fig)
        return shown(fig, *args, **kwargs)

    checked._radkit_checked = True
    formatter.for_type(Figure, checked)
    return True
