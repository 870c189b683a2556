"""Tests for radkit.viz: pictures, grids, windows side by side and the window/level slider."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from radkit import dicom, viz  # noqa: E402
from radkit.errors import RadkitError  # noqa: E402


@pytest.fixture
def hu():
    return dicom.pixels(dicom.read(dicom.example_path("CT_small.dcm")))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _shown(ax) -> np.ndarray:
    return np.asarray(ax.get_images()[0].get_array())


def test_show_draws_the_picture_with_a_sensible_grey_range(hu):
    ax = viz.show(hu, title="CT")
    assert np.array_equal(_shown(ax), hu) and ax.get_title() == "CT"
    assert ax.get_images()[0].get_clim() == (hu.min(), hu.max())
    assert viz.show(np.zeros((4, 4), np.uint8)).get_images()[0].get_clim() == (0, 255)
    assert viz.show(np.full((4, 4), 0.5)).get_images()[0].get_clim() == (0, 1)


def test_show_refuses_a_volume_with_a_clear_message(hu):
    with pytest.raises(RadkitError, match="one slice"):
        viz.show(np.stack([hu, hu]))


def test_show_grid_lays_out_every_image(hu):
    fig = viz.show_grid([hu, hu, hu, hu, hu], titles=list("abcde"), ncols=2)
    drawn = [ax for ax in fig.axes if ax.get_images()]
    assert len(fig.axes) == 6 and [ax.get_title() for ax in drawn] == list("abcde")
    with pytest.raises(RadkitError):
        viz.show_grid([])


def test_show_windows_draws_each_window(hu):
    fig = viz.show_windows(hu, {name: dicom.CT_WINDOWS[name] for name in ("lung", "mediastinum", "bone")})
    assert len(fig.axes) == 3
    for ax, name in zip(fig.axes, ("lung", "mediastinum", "bone")):
        assert np.allclose(_shown(ax), dicom.apply_window(hu, *dicom.CT_WINDOWS[name]))
        assert ax.get_title().startswith(name)
    inverted = viz.show_windows(hu, {"bone": dicom.CT_WINDOWS["bone"]}, invert=True)
    assert np.allclose(_shown(inverted.axes[0]), 1 - dicom.apply_window(hu, *dicom.CT_WINDOWS["bone"]))


def test_window_level_slider_presets_move_the_sliders(hu, monkeypatch):
    drawn = []
    monkeypatch.setattr(viz, "show", lambda picture, title=None, **kw: drawn.append((picture, title)))
    widget = viz.window_level_slider(hu, presets=dicom.CT_WINDOWS)
    menu, level, width = widget.children[0].children
    assert (level.value, width.value) == pytest.approx(((hu.min() + hu.max()) / 2, hu.max() - hu.min()))
    menu.value = "lung"
    assert (level.value, width.value) == dicom.CT_WINDOWS["lung"]
    assert np.allclose(drawn[-1][0], dicom.apply_window(hu, *dicom.CT_WINDOWS["lung"]))
    menu.value = "bone"  # a preset outside the first slider range still fits
    assert (level.value, width.value) == dicom.CT_WINDOWS["bone"]


def test_window_level_slider_without_presets_has_two_sliders(hu):
    widget = viz.window_level_slider(hu, level=40, width=400, invert=True)
    assert [c.description for c in widget.children[0].children] == ["level", "width"]
