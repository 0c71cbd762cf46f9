"""Figure 6, several journals at once: TTFT p99, TPOT p99 and throughput of each run overlaid, each
run's fault windows shaded in its own colour."""
from __future__ import annotations

from pathlib import Path

from chaos.report import style
from chaos.report.figures.common import fmt_seconds_axis, latency_scale, shade_faults, thin
from chaos.report.view import RunView


def draw(runs: list[RunView], out: Path) -> Path | None:
    runs = [r for r in runs if r.series is not None]
    if not runs:
        return None
    horizon = max(r.horizon_s for r in runs)
    scale = style.time_scale(horizon)
    with style.pyplot() as plt:
        fig, axes = plt.subplots(3, 1, figsize=(style.WIDTH_IN, 7.2), sharex=True, layout="constrained")
        panels = (("ttft_p99_s", "TTFT p99"), ("tpot_p99_s", "TPOT p99"), ("throughput_tok_s", "output tokens/s"))
        drawn: dict[str, list] = {c: [] for c, _ in panels}
        for i, run in enumerate(runs):
            colour = style.SERIES[i % len(style.SERIES)]
            ts = run.series
            x = (ts.t_s + (ts.window_s or 0.0) / 2) / scale
            for ax, (col, _) in zip(axes, panels):
                y = ts.col(col)
                if y is None:
                    continue
                xx, yy = thin(x, y)
                ax.plot(xx, yy, color=colour, label=run.label)
                drawn[col].append(y)
            shade_faults(list(axes), run, scale, colour=colour, alpha=0.08, legend=False)
        for ax, (col, label) in zip(axes, panels):
            ax.set_ylabel(label)
            if col != "throughput_tok_s":
                latency_scale(ax, *drawn[col])
                fmt_seconds_axis(ax)
            else:
                ax.set_ylim(bottom=0)
        slos = {k: v for k, v in runs[0].slo.items() if all(r.slo.get(k) == v for r in runs)}
        if "ttft" in slos:
            axes[0].axhline(slos["ttft"], color=style.SLO_LINE, ls="-.", lw=1.0, label="SLO")
        if "tpot" in slos:
            axes[1].axhline(slos["tpot"], color=style.SLO_LINE, ls="-.", lw=1.0, label="SLO")
        axes[0].set_title(f"comparison of {len(runs)} runs (fault windows shaded in each run's colour)")
        handles, labels = axes[0].get_legend_handles_labels()   # run names are long: under the plots
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 2), frameon=False)
        axes[-1].set_xlim(0, horizon / scale)
        style.minutes_axis(axes[-1], horizon)
        return style.save(fig, out)
