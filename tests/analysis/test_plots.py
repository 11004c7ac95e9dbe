"""Figures (sim/analysis/plots.py): a figure of the size asked with the axes asked for, and its PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import image
from matplotlib.figure import Figure

from sim.analysis.plots import png_bytes, subplots

pytestmark = pytest.mark.unit


def test_subplots_gives_a_figure_of_the_size_asked_and_its_axes():
    fig, ax = subplots((4.0, 3.0))
    assert isinstance(fig, Figure) and tuple(fig.get_size_inches()) == (4.0, 3.0)
    assert ax.figure is fig
    fig, axes = subplots((8.0, 2.5), nrows=2, ncols=3, sharex=True)
    assert tuple(fig.get_size_inches()) == (8.0, 2.5) and np.shape(axes) == (2, 3)
    assert axes[0, 0].get_shared_x_axes().joined(axes[0, 0], axes[1, 2])


def test_png_bytes_is_a_png_of_the_drawing_at_100_dpi():
    fig, ax = subplots((4.0, 3.0))
    ax.plot([0, 1, 2], [2, 0, 1], color="tab:red", linewidth=3)
    data = png_bytes(fig)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(io.BytesIO(data), format="png")
    height, width = pixels.shape[:2]
    # cropped to the content: at most the 400 x 300 pixels of 4 x 3 inches at 100 dpi, not much less
    assert 300 <= width <= 400 and 220 <= height <= 300
    red = (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert red.sum() > 200  # the line is drawn
