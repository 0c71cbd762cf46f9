"""One look for every report figure: colours, sizes, fonts and the Agg backend.

Matplotlib is imported inside `pyplot()` only (STYLE point 8), so importing this module is free.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

# Colours: faulted run in strong tones, its fault-free baseline in grey; one hue per pool.
FAULTED = "#1f5fa8"
FAULTED_2 = "#d9731a"      # a second faulted series on the same axes (p50 next to p99)
FAULTED_3 = "#2f9e44"
BASELINE = "#9a9a9a"
FAULT_SHADE = "#e03131"
SLO_LINE = "#c92a2a"
ACTION_LINE = "#7048e8"
POOL_COLOURS = {"aggregated": "#1f5fa8", "prefill": "#d9731a", "decode": "#2f9e44", "spare": "#adb5bd"}
LOST = "#e03131"
DEGRADED = "#f08c00"
FAILED_ELEMENT = "#000000"
# Several journals on one comparison figure, in this order.
SERIES = ("#1f5fa8", "#d9731a", "#2f9e44", "#7048e8", "#c2255c", "#0c8599", "#5c940d", "#495057")

DPI = 100
WIDTH_IN = 11.0
FONT_SIZE = 9

RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 1,
    "axes.titleweight": "bold",
    "axes.labelsize": FONT_SIZE,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": FONT_SIZE - 1,
    "legend.frameon": False,
    "lines.linewidth": 1.3,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "svg.fonttype": "none",
}


def pool_colour(role: str) -> str:
    return POOL_COLOURS.get(role, "#868e96")


@contextmanager
def pyplot():
    """matplotlib.pyplot on the Agg backend with the report style, as a context."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    with matplotlib.rc_context(RC):
        yield plt


def save(fig, path: Path) -> Path:
    """Write `fig` as PNG (fixed metadata so the bytes do not depend on the clock) and close it."""
    import matplotlib.pyplot as plt
    fig.savefig(path, format="png", metadata={"Software": None}, facecolor="white")
    plt.close(fig)
    return path


def minutes_axis(ax, horizon_s: float) -> str:
    """Label the x axis in seconds or minutes by the run's length; returns the unit and scales nothing
    (callers divide by `time_scale(horizon_s)`)."""
    unit = "min" if horizon_s > 300 else "s"
    ax.set_xlabel(f"simulated time ({unit})")
    return unit


def time_scale(horizon_s: float) -> float:
    """Divide seconds by this to get the x-axis unit of `minutes_axis`."""
    return 60.0 if horizon_s > 300 else 1.0
