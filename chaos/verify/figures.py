"""Figures of a verification, in the report room's style: CDF overlays, Q-Q plots, time series of the
simulated run (blue) against the measured one (orange). Matplotlib is imported inside (STYLE point 8)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.metrics import ItlSamples, RequestLog, Status, time_series, weighted_quantile
from chaos.report import style

SIM, MEASURED = style.SERIES[0], style.SERIES[1]
GRID = np.concatenate([np.linspace(0, 0.99, 400), np.linspace(0.99, 1.0, 101)[1:]])
LABELS = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency", "itl": "ITL"}


def samples(log: RequestLog, itl: ItlSamples | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(values s, weights) per metric: TTFT of requests with a first token, TPOT and E2E of completed
    requests, ITL gaps with their weights."""
    done = log.status == int(Status.COMPLETED)
    out = {}
    for key, arr, mask in (("ttft", log.ttft_s(), ~np.isnan(log.first_token_s)), ("tpot", log.tpot_s(), done),
                           ("e2e", log.e2e_s(), done)):
        v = np.asarray(arr, dtype=float)[mask]
        v = v[np.isfinite(v)]
        out[key] = (v, np.ones(len(v)))
    if itl is not None and len(itl.gaps_s):
        out["itl"] = (itl.gaps_s, itl.weights)
    return out


def _quantiles(values: np.ndarray, weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(weighted_quantile(values, weights, q))


def cdfs(sim: dict, measured: dict, out: Path) -> Path:
    keys = [k for k in ("ttft", "tpot", "e2e", "itl") if k in sim and k in measured]
    with style.pyplot() as plt:
        fig, axes = plt.subplots(1, len(keys), figsize=(style.WIDTH_IN, 3.0), squeeze=False)
        for ax, key in zip(axes[0], keys):
            for data, colour, label in ((sim[key], SIM, "simulated"), (measured[key], MEASURED, "measured")):
                v, w = data
                if len(v):
                    ax.plot(_quantiles(v, w, GRID) * 1000, GRID, color=colour, label=f"{label} (n={int(w.sum()):,})")
            ax.set_title(LABELS[key])
            ax.set_xlabel("ms")
            ax.set_ylim(0, 1)
            ax.legend(loc="lower right")
        axes[0][0].set_ylabel("fraction of requests (ITL: of gaps)")
        fig.tight_layout()
        return style.save(fig, out)


def qq(sim: dict, measured: dict, out: Path) -> Path:
    keys = [k for k in ("ttft", "tpot", "e2e", "itl") if k in sim and k in measured
            and len(sim[k][0]) and len(measured[k][0])]
    q = np.linspace(0.01, 0.99, 99)
    with style.pyplot() as plt:
        fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(style.WIDTH_IN, 3.0), squeeze=False)
        for ax, key in zip(axes[0], keys):
            xs = _quantiles(*measured[key], q) * 1000
            ys = _quantiles(*sim[key], q) * 1000
            lo, hi = float(min(xs.min(), ys.min())), float(max(xs.max(), ys.max()))
            ax.plot([lo, hi], [lo, hi], color=style.BASELINE, lw=0.8, ls="--", label="y = x")
            ax.scatter(xs, ys, s=8, color=SIM, label="1st..99th percentile")
            for p in (49, 98):         # mark p50 and p99
                ax.scatter([xs[p]], [ys[p]], s=30, facecolors="none", edgecolors=MEASURED)
            ax.set_title(f"{LABELS[key]} Q-Q")
            ax.set_xlabel("measured (ms)")
            ax.set_ylabel("simulated (ms)")
            ax.legend(loc="upper left")
        fig.tight_layout()
        return style.save(fig, out)


def timeseries(sim_log: RequestLog, measured_log: RequestLog, window_s: float, out: Path) -> Path:
    t_end = max(_end(sim_log), _end(measured_log), window_s)
    s = time_series(sim_log, window_s=window_s, t_end=t_end)
    m = time_series(measured_log, window_s=window_s, t_end=t_end)
    scale = style.time_scale(t_end)
    with style.pyplot() as plt:
        fig, axes = plt.subplots(3, 1, figsize=(style.WIDTH_IN, 6.5), sharex=True)
        for ax, name, title, unit in ((axes[0], "ttft_p50_s", "TTFT p50", 1000), (axes[1], "tpot_p99_s", "TPOT p99", 1000),
                                      (axes[2], "throughput_tok_s", "throughput (output tok/s)", 1)):
            ax.plot(s.t_s / scale, getattr(s, name) * unit, color=SIM, label="simulated", drawstyle="steps-post")
            ax.plot(m.t_s / scale, getattr(m, name) * unit, color=MEASURED, label="measured", drawstyle="steps-post")
            ax.set_title(title)
            ax.set_ylabel("ms" if unit == 1000 else "tok/s")
            ax.legend(loc="upper right")
        unit = style.minutes_axis(axes[2], t_end)
        axes[2].set_xlabel(f"time since the start of the run ({unit})")
        fig.tight_layout()
        return style.save(fig, out)


def _end(log: RequestLog) -> float:
    from chaos.metrics import run_end_s
    return run_end_s(log)
