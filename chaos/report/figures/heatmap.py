"""Figure 5, per-replica load over time (outstanding requests per replica per window).

Hundreds of replicas do not fit one row each: past MAX_ROWS, consecutive replicas of a pool are
grouped into bands and each band shows its mean; long runs are averaged into at most MAX_COLS columns.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.report import style
from chaos.report.figures.common import fault_span
from chaos.report.view import RunView

MAX_ROWS = 48
MAX_COLS = 600


def _order(run: RunView, ids: list[str]) -> list[str]:
    role_of = {r.id: r.role for r in run.replicas}
    order = {"prefill": 0, "aggregated": 1, "decode": 2}

    def key(rid):
        role = role_of.get(rid, rid.rsplit("-", 1)[0])
        tail = rid.rsplit("-", 1)[-1]
        return (order.get(role, 3), role, int(tail) if tail.isdigit() else 0, rid)
    return sorted(ids, key=key)


def _band_mean(block: np.ndarray) -> np.ndarray:
    """Per window, the mean over the band's replicas that existed then (a spare activated later is NaN
    before); NaN where none did, shown blank, without numpy's empty-slice warning."""
    present = ~np.isnan(block)
    n = present.sum(axis=0)
    total = np.where(present, block, 0.0).sum(axis=0)
    return np.divide(total, n, out=np.full(block.shape[1], np.nan), where=n > 0)


def rows(run: RunView) -> tuple[np.ndarray, list[str], list[list[str]]]:
    """(matrix rows x windows, row labels, replica ids of each row) after grouping to at most MAX_ROWS
    rows (consecutive replicas of one pool per band)."""
    load = run.fleet.replica_load
    ids = _order(run, list(load))
    role_of = {r.id: r.role for r in run.replicas}
    roles = [role_of.get(i, i.rsplit("-", 1)[0]) for i in ids]
    if len(ids) <= MAX_ROWS:
        return np.vstack([load[i] for i in ids]), ids, [[i] for i in ids]
    per_band = int(np.ceil(len(ids) / MAX_ROWS))
    mats, labels, members = [], [], []
    start = 0
    while start < len(ids):
        role = roles[start]
        end = start
        while end < len(ids) and end - start < per_band and roles[end] == role:
            end += 1
        mats.append(_band_mean(np.vstack([load[i] for i in ids[start:end]])))
        labels.append(ids[start] if end - start == 1 else f"{ids[start]}..{ids[end - 1].rsplit('-', 1)[-1]}")
        members.append(ids[start:end])
        start = end
    return np.vstack(mats), labels, members


def draw(run: RunView, out: Path) -> Path | None:
    fs = run.fleet
    if fs is None or not fs.replica_load:
        return None
    mat, labels, members = rows(run)
    t = fs.t_s
    if mat.shape[1] > MAX_COLS:
        k = int(np.ceil(mat.shape[1] / MAX_COLS))
        m = mat.shape[1] // k * k
        mat = mat[:, :m].reshape(mat.shape[0], -1, k).mean(axis=2)
        t = t[:m:k]
    scale = style.time_scale(run.horizon_s)
    lost = {r for f in run.faults for r in f.replicas_lost}
    degraded = {r for f in run.faults for r in f.replicas_degraded}
    height = min(1.6 + 0.2 * len(labels), 9.0)
    with style.pyplot() as plt:
        fig, ax = plt.subplots(figsize=(style.WIDTH_IN, height), constrained_layout=True)
        t_end = run.horizon_s / scale
        extent = (t[0] / scale if len(t) else 0.0, t_end, len(labels) - 0.5, -0.5)
        im = ax.imshow(mat, aspect="auto", interpolation="nearest", cmap="viridis", extent=extent)
        ax.grid(False)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=max(5, style.FONT_SIZE - 1 - len(labels) // 24))
        for tick, band in zip(ax.get_yticklabels(), members):
            if lost.intersection(band):
                tick.set_color(style.LOST)
                tick.set_fontweight("bold")
            elif degraded.intersection(band):
                tick.set_color(style.DEGRADED)
        for f in run.faults:
            t0, t1 = fault_span(f, run.horizon_s)
            ax.axvline(t0 / scale, color=style.FAULT_SHADE, lw=1.2)
            if f.end_s is not None and not f.permanent and f.end_s < run.horizon_s:
                ax.axvline(t1 / scale, color=style.FAULT_SHADE, lw=1.0, ls="--")
        cb = fig.colorbar(im, ax=ax, pad=0.01)
        cb.set_label("outstanding requests" + (" (band mean)" if len(labels) < len(fs.replica_load) else ""))
        grouped = len(labels) < len(fs.replica_load)
        ax.set_title(f"{run.name}: load per replica"
                     + (f" ({len(fs.replica_load)} replicas in {len(labels)} bands)" if grouped else "")
                     + ("; red: lost to a fault" if lost else "") + ("; orange: degraded" if degraded else ""))
        style.minutes_axis(ax, run.horizon_s)
        return style.save(fig, out)
