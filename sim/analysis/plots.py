"""Figures for the report and the sensitivity plots, made without pyplot.

matplotlib's object API needs no backend and keeps no global figure list, so importing an
analysis never switches the backend of a user's session (a notebook keeps its own).
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure


def subplots(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **options):
    """A new figure of `figsize` inches and its axes, as `pyplot.subplots` would give them."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **options)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG at 100 dpi, cropped to its content."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()
