"""Showing images: one picture, a grid, several windows side by side, and a window/level slider.

Introduced in notebook 01_medical_images. Pictures are drawn with matplotlib
in grey, bright = white. Other modules add their own plots (curves,
overlays); these are the basics.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from radkit.dicom import apply_window
from radkit.errors import RadkitError


def _grey_range(image: np.ndarray) -> tuple[float, float]:
    """Black and white points: 0..255 for 8-bit pictures, 0..1 for windowed ones, else the full range."""
    if image.dtype == np.uint8:
        return 0, 255
    low, high = float(np.min(image)), float(np.max(image))
    return (0.0, 1.0) if 0 <= low and high <= 1 else (low, high)


def _check_2d(image, what: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise RadkitError(f"The {what} should be one 2-D picture (rows x columns); it has shape {image.shape}.",
                          "For a volume pick one slice, e.g. volume[5]; for a batch pick one image, e.g. images[0].")
    return image


def show(image, title: str | None = None, ax=None, size: float = 4.0, invert: bool = False):
    """Show one grey picture (uint8, 0..1 floats, or real values such as HU). Returns the matplotlib axes."""
    image = _check_2d(image)
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size * image.shape[0] / image.shape[1]))
    low, high = _grey_range(image)
    ax.imshow(image, cmap="gray_r" if invert else "gray", vmin=low, vmax=high, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_grid(images, titles=None, ncols: int = 4, size: float = 3.0):
    """Show several grey pictures in a grid, ``ncols`` to a row. Returns the figure."""
    images = list(images)
    if not images:
        raise RadkitError("There are no images to show.", "Pass a list (or array) of at least one image.")
    titles = list(titles) if titles is not None else [None] * len(images)
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, title in zip(axes.flat, images, titles):
        show(image, title, ax=ax)
    fig.tight_layout()
    return fig


def show_windows(pixels, windows: dict, invert: bool = False, size: float = 3.5):
    """Show the same pixels through several windows side by side: ``windows`` maps a name to (level, width).

    ``invert=True`` for MONOCHROME1 images (low values white). Returns the figure.
    """
    pixels = _check_2d(pixels, "pixels")
    pictures = [apply_window(pixels, level, width) for level, width in windows.values()]
    if invert:
        pictures = [1 - picture for picture in pictures]
    titles = [f"{name}\nlevel {level:g}, width {width:g}" for name, (level, width) in windows.items()]
    return show_grid(pictures, titles, ncols=len(pictures), size=size)


def window_level_slider(pixels, level: float | None = None, width: float | None = None,
                        presets: dict | None = None, invert: bool = False, size: float = 5.0):
    """An interactive window/level viewer: two sliders, and a presets menu (e.g. ``dicom.CT_WINDOWS``).

    Works in JupyterLab, Jupyter Notebook and Colab. Returns the widget; show
    it by making it the last line of a cell.
    """
    import ipywidgets as widgets

    pixels = _check_2d(pixels, "pixels").astype(np.float32)
    low, high = float(pixels.min()), float(pixels.max())
    span = max(high - low, 1.0)
    presets = dict(presets or {})
    level = (low + high) / 2 if level is None else float(level)
    width = span if width is None else float(width)
    # The sliders reach every preset too, even one outside this image's range of values.
    levels = [low, high, level] + [lv for lv, _ in presets.values()]
    widths = [2 * span, width] + [w for _, w in presets.values()]
    step = 1.0 if span > 20 else span / 200
    level_slider = widgets.FloatSlider(value=level, min=min(levels), max=max(levels), step=step,
                                       description="level", continuous_update=False)
    width_slider = widgets.FloatSlider(value=width, min=step, max=max(widths), step=step,
                                       description="width", continuous_update=False)
    controls = [level_slider, width_slider]
    if presets:
        menu = widgets.Dropdown(options=["(your own)"] + list(presets), description="preset")

        def use_preset(change):
            if change["new"] in presets:
                level_slider.value, width_slider.value = presets[change["new"]]

        menu.observe(use_preset, names="value")
        controls.insert(0, menu)

    def draw(level, width):
        picture = apply_window(pixels, level, width)
        show(1 - picture if invert else picture, f"level {level:g}, width {width:g}", size=size)
        plt.show()

    picture = widgets.interactive_output(draw, {"level": level_slider, "width": width_slider})
    return widgets.VBox([widgets.HBox(controls), picture])
