"""The per-tenant figure: each tenant's TTFT p99 and output tokens/s per window, fault windows shaded,
each tenant's own TTFT target dash-dotted."""
from __future__ import annotations

from pathlib import Path

from chaos.report import style
from chaos.report.figures.common import fmt_seconds_axis, latency_scale, shade_faults, thin
from chaos.report.view import RunView

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def draw(run: RunView, out: Path) -> Path | None:
    series = run.tenant_series or {}
    if not series:
        return None
    slo = {t.get("name"): (t.get("slo") or {}).get("ttft") for t in (run.resolved.get("tenants") or [])
           if isinstance(t, dict)}
    scale = style.time_scale(run.horizon_s)
    with style.pyplot() as plt:
        fig, (ax_ttft, ax_tput) = plt.subplots(2, 1, figsize=(style.WIDTH_IN, 5.6), sharex=True,
                                               constrained_layout=True)
        ttfts = []
        for k, (name, ts) in enumerate(series.items()):
            if ts is None:
                continue
            colour = COLOURS[k % len(COLOURS)]
            x = (ts.t_s + (ts.window_s or 0.0) / 2.0) / scale
            y = ts.col("ttft_p99_s")
            if y is not None:
                ttfts.append(y)
                ax_ttft.plot(*thin(x, y), color=colour, label=f"{name} TTFT p99")
            tput = ts.col("throughput_tok_s")
            if tput is not None:
                ax_tput.plot(*thin(x, tput), color=colour, label=name)
            if slo.get(name) is not None:
                ax_ttft.axhline(slo[name], color=colour, ls="-.", lw=1.0, label=f"{name} SLO")
        latency_scale(ax_ttft, *ttfts)
        fmt_seconds_axis(ax_ttft)
        ax_ttft.set_ylabel("TTFT p99")
        ax_tput.set_ylabel("output tokens/s")
        ax_tput.set_ylim(bottom=0)
        shade_faults([ax_ttft, ax_tput], run, scale, label_ax=ax_ttft)
        ax_ttft.set_title(f"{run.name}: per tenant")
        for ax in (ax_ttft, ax_tput):
            ax.legend(loc="upper right", ncol=3)
        ax_tput.set_xlim(0, run.horizon_s / scale)
        style.minutes_axis(ax_tput, run.horizon_s)
        return style.save(fig, out)
