"""Helpers shared by the figures: fault shading, action marks, down-sampling for long runs."""
from __future__ import annotations

import numpy as np

from chaos.report import style
from chaos.report.view import Action, Fault, RunView

MAX_LABELLED_FAULTS = 6
MAX_LABELLED_ACTIONS = 8
MAX_POINTS = 1500


def fault_span(f: Fault, horizon_s: float) -> tuple[float, float]:
    end = f.end_s if f.end_s is not None else horizon_s
    return f.start_s, max(end, f.start_s)


def shade_faults(axes, run: RunView, scale: float, *, label_ax=None, colour: str = style.FAULT_SHADE,
                 alpha: float = 0.12, legend: bool = True) -> None:
    """Shade every fault window on every axis; name them on `label_ax` when there are few, else count them.

    A permanent fault (never repaired) is hatched to the end of the run.
    """
    faults = run.faults
    if not faults:
        return
    for i, f in enumerate(faults):
        t0, t1 = fault_span(f, run.horizon_s)
        if t1 - t0 <= 0:
            t1 = t0 + max(run.horizon_s / 400.0, 1e-9)
        for ax in axes:
            ax.axvspan(t0 / scale, t1 / scale, color=colour, alpha=alpha, lw=0,
                       hatch="//" if f.permanent else None,
                       label=("fault window" if (legend and i == 0 and ax is axes[0]) else None))
    if label_ax is None:
        return
    if len(faults) <= MAX_LABELLED_FAULTS:
        ymax = 0.98
        for k, f in enumerate(faults):
            t0, _ = fault_span(f, run.horizon_s)
            text = f.type + (" (permanent)" if f.permanent else "")
            label_ax.text(t0 / scale, ymax - 0.11 * (k % 3), " " + text, transform=label_ax.get_xaxis_transform(),
                          fontsize=style.FONT_SIZE - 1, color=colour, va="top", ha="left", clip_on=True)
    else:
        label_ax.text(0.995, 0.98, f"{len(faults)} fault windows shaded", transform=label_ax.transAxes,
                      fontsize=style.FONT_SIZE - 1, color=colour, va="top", ha="right")


def mark_actions(axes, actions: list[Action], scale: float, *, label_ax=None) -> None:
    """A dotted line per controller action; names on `label_ax` when there are few."""
    if not actions:
        return
    times = sorted({a.t_s for a in actions})
    for ax in axes:
        for j, t in enumerate(times):
            ax.axvline(t / scale, color=style.ACTION_LINE, lw=0.9, ls=":",
                       label=("controller action" if (j == 0 and ax is axes[0]) else None))
    if label_ax is None:
        return
    if len(actions) <= MAX_LABELLED_ACTIONS:
        for k, a in enumerate(actions):
            label_ax.annotate(a.action, xy=(a.t_s / scale, 0.02 + 0.12 * (k % 4)), xycoords=("data", "axes fraction"),
                              fontsize=style.FONT_SIZE - 2, color=style.ACTION_LINE, rotation=0, ha="left",
                              xytext=(2, 0), textcoords="offset points")
    else:
        label_ax.text(0.005, 0.02, f"{len(actions)} controller actions", transform=label_ax.transAxes,
                      fontsize=style.FONT_SIZE - 1, color=style.ACTION_LINE, va="bottom", ha="left")


def thin(x: np.ndarray, *ys: np.ndarray, limit: int = MAX_POINTS):
    """Keep at most `limit` points: block means of consecutive points (a one-hour run of 1 s windows
    would otherwise draw 3,600 zig-zags)."""
    n = len(x)
    if n <= limit:
        return (x, *ys)
    k = int(np.ceil(n / limit))
    m = n // k * k

    def block(a):
        with np.errstate(invalid="ignore"):
            head = np.nanmean(a[:m].reshape(-1, k), axis=1) if m else np.zeros(0)
        if m < n:
            with np.errstate(invalid="ignore"):
                head = np.append(head, np.nanmean(a[m:]))
        return head
    return (block(x), *(block(np.asarray(y, dtype=float)) for y in ys))


def latency_scale(ax, *arrays: np.ndarray) -> None:
    """Log y when latencies span more than two decades (a fault's backlog next to a calm baseline)."""
    vals = np.concatenate([a[np.isfinite(a) & (a > 0)] for a in arrays if a is not None]) if arrays else np.zeros(0)
    if len(vals) and vals.max() / max(vals.min(), 1e-9) > 100:
        ax.set_yscale("log")


def fmt_seconds_axis(ax) -> None:
    """Tick labels like 250ms / 2s on a latency axis."""
    from matplotlib.ticker import FuncFormatter
    from chaos.units import format_duration
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_duration(v) if v > 0 else "0"))
