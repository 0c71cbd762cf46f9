"""Figure 2, capacity: replicas up per pool, queue depth and running sequences, KV use, with the
controller's actions marked and fault windows shaded."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.report import style
from chaos.report.figures.common import mark_actions, outside_legend, shade_faults, thin
from chaos.report.view import RunView


def draw(run: RunView, out: Path) -> Path | None:
    fs = run.fleet
    if fs is None:
        return None
    base = run.baseline.fleet if run.baseline is not None else None
    scale = style.time_scale(run.horizon_s)
    with style.pyplot() as plt:
        fig, axes = plt.subplots(3, 1, figsize=(style.WIDTH_IN, 6.6), sharex=True, constrained_layout=True)
        ax_up, ax_q, ax_kv = axes
        x = fs.t_s / scale
        top = 0.0
        for role, up in fs.replicas_up.items():
            ax_up.step(x, up, where="post", color=style.pool_colour(role), label=f"{role} up")
            top = max(top, float(np.nanmax(up)) if len(up) else 0.0)
            if base is not None and role in base.replicas_up:
                ax_up.step(base.t_s / scale, base.replicas_up[role], where="post", color=style.BASELINE,
                           ls="--", lw=1.0, label=f"{role}, baseline")
        ax_up.set_ylim(-0.2, max(top, 1.0) * 1.25 + 0.5)
        ax_up.set_ylabel("replicas up")
        if top <= 20:
            from matplotlib.ticker import MaxNLocator
            ax_up.yaxis.set_major_locator(MaxNLocator(integer=True))

        if fs.queue_depth is not None:
            xx, yy = thin(x, fs.queue_depth)
            ax_q.plot(xx, yy, color=style.FAULTED, label="waiting (queue depth)")
        if fs.running is not None:
            xx, yy = thin(x, fs.running)
            ax_q.plot(xx, yy, color=style.FAULTED_3, label="running")
        if base is not None and base.queue_depth is not None:
            xx, yy = thin(base.t_s / scale, base.queue_depth)
            ax_q.plot(xx, yy, color=style.BASELINE, ls="--", lw=1.0, label="waiting, baseline")
        ax_q.set_ylabel("sequences")
        ax_q.set_ylim(bottom=0)

        if fs.kv_use_frac is not None:
            xx, yy = thin(x, fs.kv_use_frac * 100)
            ax_kv.plot(xx, yy, color=style.FAULTED_2, label="KV cache in use (mean over replicas)")
        if base is not None and base.kv_use_frac is not None:
            xx, yy = thin(base.t_s / scale, base.kv_use_frac * 100)
            ax_kv.plot(xx, yy, color=style.BASELINE, ls="--", lw=1.0, label="KV use, baseline")
        ax_kv.set_ylabel("KV use (%)")
        ax_kv.set_ylim(0, 105)

        key = shade_faults(list(axes), run, scale, label_ax=ax_up)
        mark_actions(list(axes), run.actions, scale, label_ax=ax_up)
        ax_up.set_title(f"{run.name}: capacity, queues and KV cache"
                        + (f"; {len(run.actions)} controller actions" if run.actions else "; no controller action"))
        for ax in axes:
            outside_legend(ax, key if ax is ax_up else [])
        ax_kv.set_xlim(0, run.horizon_s / scale)
        style.minutes_axis(ax_kv, run.horizon_s)
        return style.save(fig, out)
