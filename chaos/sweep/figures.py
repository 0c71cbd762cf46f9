"""The sweep's figures (matplotlib, the report room's style): one per Pareto pair — dominated points grey,
the front highlighted and labelled by what differs, the fault-free twin's front beside it with an arrow
from each configuration's quiet-day position to its faulted one — and one per resilience curve family.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from chaos.report.style import BASELINE, FAULTED, FAULTED_2, SERIES, SLO_LINE, WIDTH_IN, pyplot, save
from chaos.sweep.configs import Config
from chaos.sweep.curves import NO_FAULT, Curve
from chaos.sweep.metrics import METRICS
from chaos.sweep.pareto import Front, FrontPair

_SCALE = {"duration": (1e3, "ms"), "fraction": (100.0, "%")}


def _unit(name: str) -> tuple[float, str]:
    m = METRICS[name]
    if m.kind in _SCALE:
        return _SCALE[m.kind]
    return 1.0, {"throughput_per_gpu": "tok/s per GPU", "throughput_tok_s": "tok/s"}.get(name, "")


def _axis_label(name: str) -> str:
    scale, unit = _unit(name)
    better = "lower is better" if METRICS[name].better == "lower" else "higher is better"
    return f"{METRICS[name].label} ({unit}; {better})" if unit else f"{METRICS[name].label} ({better})"


def _draw_front(ax, front: Front, labels: dict[int, str], title: str, colour: str,
                name: str = "Pareto front") -> None:
    sx, _ = _unit(front.x)
    sy, _ = _unit(front.y)
    pts = {i: p for i, p in front.points.items() if p[0] is not None and p[1] is not None}
    off = [i for i in pts if i not in front.on]
    ax.scatter([pts[i][0] * sx for i in off], [pts[i][1] * sy for i in off], c=BASELINE, s=18,
               label="dominated", zorder=2)
    on = sorted((i for i in front.on if i in pts), key=lambda i: pts[i][0])
    ax.plot([pts[i][0] * sx for i in on], [pts[i][1] * sy for i in on], "-o", color=colour, ms=5,
            label=name, zorder=3)
    at: dict[tuple, list[int]] = {}
    for i in on:  # configurations at the same spot share one label
        at.setdefault(pts[i], []).append(i)
    for (x, y), same in at.items():
        text = _clip(labels.get(same[0], str(same[0])))
        if len(same) > 1:
            text += f" (+{len(same) - 1} more here)"
        ax.annotate(text, (x * sx, y * sy), fontsize=7, xytext=(4, 3), textcoords="offset points", color=colour)
    ax.set_title(title)
    ax.set_xlabel(_axis_label(front.x))
    ax.set_ylabel(_axis_label(front.y))
    ax.legend(loc="best", fontsize=7)


def _clip(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _log_if_wide(ax) -> None:
    """A log x axis when the values span more than 10x (latencies under overload), else linear."""
    lo, hi = ax.dataLim.x0, ax.dataLim.x1
    if lo > 0 and hi / lo > 10:
        ax.set_xscale("log")


def draw_front(pair: FrontPair, configs: Sequence[Config], axes: Sequence[str], path: Path) -> Path:
    """The pair's fronts under faults (one colour per fault setting) and, when the sweep has faults,
    the fault-free twins' front beside them."""
    labels = {c.index: c.differs(axes) or c.label for c in configs}
    with pyplot() as plt:
        n = 2 if pair.quiet is not None else 1
        fig, axs = plt.subplots(1, n, figsize=(WIDTH_IN, 4.2), squeeze=False)
        right = axs[0][n - 1]
        if pair.quiet is not None:
            quiet_labels = {i: ", ".join(p for p in labels[i].split(", ") if not p.startswith(("value=", "at=")))
                            for i in pair.quiet.points}
            _draw_front(axs[0][0], pair.quiet, quiet_labels, "Fault-free twins (a quiet day)", FAULTED_2)
        several = len(pair.faulted) > 1
        for k, front in enumerate(pair.faulted):
            colour = SERIES[k % len(SERIES)] if several else FAULTED
            _draw_front(right, front, labels, "Under the sweep's faults", colour,
                        name=f"front at {front.condition}" if several else "Pareto front")
        if pair.quiet is not None:
            sx, _ = _unit(pair.x)
            sy, _ = _unit(pair.y)
            moved = []
            for i in pair.rep:  # where each quiet-day front configuration lands under its faults
                q, f = pair.quiet.points.get(pair.rep[i]), next(
                    (fr.points.get(i) for fr in pair.faulted if i in fr.points), None)
                if pair.on_quiet(i) and q and f and None not in q and None not in f:
                    moved.append((q, f))
            if moved:
                right.scatter([q[0] * sx for q, _ in moved], [q[1] * sy for q, _ in moved], s=22,
                              facecolors="none", edgecolors=FAULTED_2, label="quiet-day front position", zorder=2)
                for q, f in moved:
                    right.annotate("", xy=(f[0] * sx, f[1] * sy), xytext=(q[0] * sx, q[1] * sy),
                                   arrowprops={"arrowstyle": "->", "color": FAULTED_2, "lw": 0.8, "alpha": 0.6})
        handles, names = right.get_legend_handles_labels()
        seen = dict(zip(names, handles))
        right.legend(list(seen.values()), list(seen), loc="best", fontsize=7)
        for ax in axs[0]:
            _log_if_wide(ax)
        fig.tight_layout()
        return save(fig, path)


def draw_curves(curves: Sequence[Curve], path: Path) -> Path | None:
    """One panel per metric of a curve family (same axis): one line per configuration, cliffs marked."""
    if not curves:
        return None
    metrics = list(dict.fromkeys(c.metric for c in curves))
    with pyplot() as plt:
        fig, axs = plt.subplots(1, len(metrics), figsize=(WIDTH_IN, 3.6), squeeze=False)
        for ax, metric in zip(axs[0], metrics):
            scale, _ = _unit(metric)
            family = [c for c in curves if c.metric == metric]
            for k, c in enumerate(family):
                colour = SERIES[k % len(SERIES)]
                xs = list(range(len(c.xs)))
                ys = [v * scale if v is not None else math.nan for v in c.values]
                ax.plot(xs, ys, "-o", color=colour, ms=4, label=c.fixed_label[:50])
                for cliff in c.cliffs[:1]:
                    y = ys[cliff.index]
                    if not math.isnan(y):
                        ax.scatter([cliff.index], [y], s=110, facecolors="none", edgecolors=SLO_LINE, zorder=4)
                ax.set_xticks(xs)
                ax.set_xticklabels([NO_FAULT if x == NO_FAULT else str(x) for x in c.xs], fontsize=7)
            if METRICS[metric].kind == "duration":
                ax.set_yscale("log")
            ax.set_xlabel(curves[0].axis)
            ax.set_ylabel(_axis_label(metric))
            ax.set_title(f"{METRICS[metric].label} along {curves[0].axis}")
        handles, labels = axs[0][0].get_legend_handles_labels()
        if len(handles) > 1:
            axs[0][0].legend(handles, labels, fontsize=6, loc="best")
        fig.tight_layout()
        return save(fig, path)
