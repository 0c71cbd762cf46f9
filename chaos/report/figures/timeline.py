"""Figure 1, the timeline: TTFT p50/p99, TPOT p99 and throughput per window, the faulted run against
its fault-free twin, fault windows shaded and named, SLO lines."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.report import style
from chaos.report.figures.common import fmt_seconds_axis, latency_scale, outside_legend, shade_faults, thin
from chaos.report.view import RunView, Windows


def _x(series: Windows, scale: float) -> np.ndarray:
    half = (series.window_s or 0.0) / 2.0
    return (series.t_s + half) / scale


def draw(run: RunView, out: Path) -> Path | None:
    ts = run.series
    if ts is None:
        return None
    base = run.baseline.series if run.baseline is not None else None
    scale = style.time_scale(run.horizon_s)
    with style.pyplot() as plt:
        fig, axes = plt.subplots(3, 1, figsize=(style.WIDTH_IN, 7.2), sharex=True, constrained_layout=True)
        ax_ttft, ax_tpot, ax_tput = axes
        x = _x(ts, scale)
        xb = _x(base, scale) if base is not None else None

        def line(ax, col, colour, label, *, baseline_too=True, lw=None):
            y = ts.col(col)
            if y is None:
                return None
            xx, yy = thin(x, y)
            ax.plot(xx, yy, color=colour, label=label, lw=lw)
            if baseline_too and base is not None and base.col(col) is not None:
                xb2, yb = thin(xb, base.col(col))
                ax.plot(xb2, yb, color=style.BASELINE, ls="--", lw=1.0, label=f"{label}, baseline")
            return y

        ttft = [line(ax_ttft, "ttft_p99_s", style.FAULTED, "TTFT p99"),
                line(ax_ttft, "ttft_p50_s", style.FAULTED_2, "TTFT p50")]
        tpot = [line(ax_tpot, "tpot_p99_s", style.FAULTED, "TPOT p99")]
        line(ax_tput, "throughput_tok_s", style.FAULTED, "throughput")

        slo = run.slo
        if "ttft" in slo:
            ax_ttft.axhline(slo["ttft"], color=style.SLO_LINE, ls="-.", lw=1.0, label="SLO TTFT p99")
        if "tpot" in slo:
            ax_tpot.axhline(slo["tpot"], color=style.SLO_LINE, ls="-.", lw=1.0, label="SLO TPOT p99")
        latency_scale(ax_ttft, *[a for a in ttft if a is not None])
        latency_scale(ax_tpot, *[a for a in tpot if a is not None])
        for ax in (ax_ttft, ax_tpot):
            fmt_seconds_axis(ax)
        ax_ttft.set_ylabel("TTFT")
        ax_tpot.set_ylabel("TPOT")
        ax_tput.set_ylabel("output tokens/s")
        ax_tput.set_ylim(bottom=0)
        if run.resilience is not None:
            cliffs = [c for c in run.resilience.cliffs if c.t_s is not None]
            for k, c in enumerate(cliffs):
                ax_tput.axvline(c.t_s / scale, color="#212529", lw=1.0, ls="--",
                                label="performance cliff" if k == 0 else None)
        key = shade_faults(list(axes), run, scale, label_ax=ax_ttft)
        w = f"{ts.window_s:g}s windows" if ts.window_s else "per window"
        ax_ttft.set_title(f"{run.name}: latency and throughput ({w})"
                          + ("" if base is not None else "; no baseline twin in the journal"))
        for ax in axes:
            outside_legend(ax, key if ax is ax_ttft else [])
        ax_tput.set_xlim(0, run.horizon_s / scale)
        style.minutes_axis(ax_tput, run.horizon_s)
        return style.save(fig, out)
