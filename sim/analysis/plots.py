"""Figures for the report and the sensitivity plots, made without pyplot.

matplotlib's object API needs no backend and keeps no global figure list, so importing an
analysis never switches the backend of a user's session (a notebook keeps its own). The figures
show themselves in a notebook all the same (`Figure._repr_png_`), pyplot imported or not.
"""

from __future__ import annotations

import io
import itertools

from matplotlib import figure


class Figure(figure.Figure):
    """A matplotlib figure that a notebook (IPython) shows as a PNG when it is a cell's value."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def subplots(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **options):
    """A new figure of `figsize` inches and its axes, as `pyplot.subplots` would give them."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **options)


def png_bytes(fig: figure.Figure) -> bytes:
    """The figure as PNG at 100 dpi, cropped to its content."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def waterfall(ax, start: tuple[str, float], steps: list[tuple[str, float, float, float]], end: str, unit: float = 1.0):
    """A waterfall on `ax`: the bar `start` (label, value), then one floating bar per step (label,
    share, low, high) from where the steps before it left off, with its interval as an error bar
    at its end, then the bar `end` at the start plus every step. Values are divided by `unit`.

    Steps that raise the value are orange, those that lower it blue, so the bars read as what
    each factor adds to or takes off the reference on the way to the scenario.
    """
    label, level = start
    labels = [label]
    ax.bar(0, level / unit, color="#9aa7b4")
    for i, (name, share, low, high) in enumerate(steps, start=1):
        ax.bar(i, share / unit, bottom=level / unit, color="#e08a3c" if share > 0 else "#4f8fcf")
        if low == low and high == high:  # NaN bounds (one replication): no error bar
            ax.errorbar(
                i,
                (level + share) / unit,
                yerr=[[max(share - low, 0.0) / unit], [max(high - share, 0.0) / unit]],
                color="black",
                capsize=3,
                lw=0.8,
            )
        # the next bar starts where this one ends
        if i < len(steps):
            ax.plot([i + 0.4, i + 0.6], [(level + share) / unit] * 2, color="#4a5561", lw=0.6)
        level += share
        labels.append(name)
    ax.bar(len(labels), level / unit, color="#1565c0")
    labels.append(end)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.margins(y=0.08)
    ax.grid(alpha=0.3, axis="y")
    # shares small beside the levels they move (a caseload of 1,500 moved by 100) would be slivers
    # on an axis from 0: the axis then spans the steps, and says that it is cut
    ends = [start[1], *itertools.accumulate((s[1] for s in steps), initial=start[1])]
    bounds = [v for _, share, low, high in steps for v in (low - share, high - share) if v == v]
    lo, hi = min(ends) + min(bounds, default=0.0), max(ends) + max(bounds, default=0.0)
    if lo > 0 and (hi - lo) < 0.3 * lo:
        pad = max(0.25 * (hi - lo), 0.01 * hi)
        ax.set_ylim((lo - pad) / unit, (hi + pad) / unit)
        ax.text(0.01, 0.01, "axis cut: it does not start at 0", transform=ax.transAxes, fontsize=7, color="#4a5561")
    return level
