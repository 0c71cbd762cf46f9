"""Helpers shared by the figures: fault shading, action marks, down-sampling for long runs."""
from __future__ import annotations

import numpy as np

from chaos.report import style
from chaos.report.view import Action, Fault, RunView

MAX_LABELLED_FAULTS = 6
MAX_LABELLED_ACTIONS = 8
MAX_POINTS = 1500


def fault_span(f: Fault, horizon_s: float) -> tuple[float, float]:
    """The part of a fault's window inside the run (a repair due after the horizon would stretch the
    time axis far past the run: a 6-minute run's figures spanned 250 minutes)."""
    start = min(f.start_s, horizon_s)
    end = f.end_s if f.end_s is not None else horizon_s
    return start, min(max(end, start), horizon_s)


def marker_rows(starts: list[float], span: float, *, min_gap: float = 0.035, rows: int = 3) -> list[int]:
    """Row (0 = top) of each numbered fault marker so markers in one row are at least min_gap x span
    apart; starts must be sorted. When every row is taken the marker goes to the row whose last
    marker is farthest back (the fewest overlaps)."""
    last = [-float("inf")] * rows
    out = []
    for x in starts:
        free = [r for r in range(rows) if x - last[r] >= min_gap * span]
        r = free[0] if free else min(range(rows), key=lambda k: last[k])
        last[r] = x
        out.append(r)
    return out


def shade_faults(axes, run: RunView, scale: float, *, label_ax=None, colour: str = style.FAULT_SHADE,
                 alpha: float = 0.12, legend: bool = True) -> list:
    """Shade every fault window on every axis. On `label_ax`, when there are at most
    MAX_LABELLED_FAULTS, each window gets a number at its start (staggered in rows so
    numbers never sit on each other: one row per fault at worst) and the returned legend handles are the key ("1  faults[0]
    gpu_crash, 3m00s–6m00s"), meant for a legend outside the axes; with more faults the title says
    how many windows are shaded instead. A permanent fault (never repaired) is hatched to the end."""
    from matplotlib.patches import Patch
    from chaos.units import format_duration

    faults = run.faults
    if not faults:
        return []
    for i, f in enumerate(faults):
        t0, t1 = fault_span(f, run.horizon_s)
        if t1 - t0 <= 0:
            t1 = t0 + max(run.horizon_s / 400.0, 1e-9)
        for ax in axes:
            ax.axvspan(t0 / scale, t1 / scale, color=colour, alpha=alpha, lw=0,
                       hatch="//" if f.permanent else None,
                       label=("fault window" if (legend and i == 0 and ax is axes[0] and label_ax is None) else None))
    if label_ax is None:
        return []
    if len(faults) > MAX_LABELLED_FAULTS:
        return [Patch(facecolor=colour, alpha=max(alpha, 0.25), label=f"{len(faults)} fault windows (shaded)")]
    order = sorted(range(len(faults)), key=lambda i: faults[i].start_s)
    rows = marker_rows([faults[i].start_s for i in order], max(run.horizon_s, 1e-9), rows=MAX_LABELLED_FAULTS)
    handles = []
    for row, i in zip(rows, order):
        f = faults[i]
        label_ax.text(f.start_s / scale, 0.97 - 0.12 * row, str(i + 1), transform=label_ax.get_xaxis_transform(),
                      fontsize=style.FONT_SIZE - 1, color="white", fontweight="bold", va="top", ha="center",
                      bbox={"boxstyle": "circle,pad=0.25", "facecolor": colour, "edgecolor": "none"}, clip_on=True)
    for i, f in enumerate(faults):
        end = "permanent" if f.permanent or f.end_s is None else format_duration(f.end_s)
        handles.append(Patch(facecolor=colour, alpha=max(alpha, 0.25), hatch="//" if f.permanent else None,
                             label=f"{i + 1}  {f.cause}, {format_duration(f.start_s)}–{end}"))
    return handles


def outside_legend(ax, extra: list = ()) -> None:
    """The axis' legend to the right of the plot, so it never covers data or fault markers."""
    handles, labels = ax.get_legend_handles_labels()
    handles += list(extra)
    labels += [h.get_label() for h in extra]
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  frameon=False)


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
