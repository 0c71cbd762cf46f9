"""Figure 3, distributions: TTFT and E2E latency CDFs of completed requests from requests.csv, the
faulted run against its baseline twin (baseline_requests.csv) when that file is there."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.report import style

# A CDF of 12,000 requests drawn from 800 quantiles looks the same and draws in a fraction of the time.
QUANTILES = np.concatenate([np.linspace(0, 0.99, 600), np.linspace(0.99, 1.0, 201)[1:]])


def latencies(log) -> dict[str, np.ndarray]:
    """TTFT and E2E seconds of the completed requests of a RequestLog."""
    from chaos.metrics import Status
    done = log.status == int(Status.COMPLETED)
    out = {}
    for key, arr in (("ttft", log.ttft_s()), ("e2e", log.e2e_s())):
        a = np.asarray(arr, dtype=float)[done]
        out[key] = a[np.isfinite(a) & (a > 0)]
    return out


def _cdf(ax, values: np.ndarray, colour: str, label: str, **kw) -> None:
    if len(values) == 0:
        return
    q = np.quantile(values, QUANTILES)
    ax.plot(q, QUANTILES, color=colour, label=f"{label} (n={len(values):,})", **kw)


def draw(name: str, faulted: dict[str, np.ndarray] | None, baseline: dict[str, np.ndarray] | None,
         slo: dict[str, float], out: Path) -> Path | None:
    if faulted is None:
        return None
    from chaos.report.figures.common import fmt_seconds_axis  # noqa: F401  (x axis below)
    from matplotlib.ticker import FuncFormatter
    from chaos.units import format_duration
    with style.pyplot() as plt:
        fig, axes = plt.subplots(1, 2, figsize=(style.WIDTH_IN, 3.8), constrained_layout=True)
        for ax, key, title in ((axes[0], "ttft", "TTFT"), (axes[1], "e2e", "E2E latency")):
            _cdf(ax, faulted[key], style.FAULTED, "faulted run")
            if baseline is not None:
                _cdf(ax, baseline[key], style.BASELINE, "baseline", ls="--")
            if key == "ttft" and "ttft" in slo:
                ax.axvline(slo["ttft"], color=style.SLO_LINE, ls="-.", lw=1.0, label="SLO TTFT p99")
            for p in (0.5, 0.99):
                ax.axhline(p, color="#adb5bd", lw=0.7, ls=":")
            vals = faulted[key]
            if len(vals) and vals.max() / max(vals.min(), 1e-9) > 50:
                ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_duration(v) if v > 0 else "0"))
            ax.set_ylim(0, 1.01)
            ax.set_xlabel(f"{title} of completed requests")
            ax.set_ylabel("fraction of requests")
            ax.set_title(f"{title} CDF" + ("" if baseline is not None else " (no baseline requests)"))
            ax.legend(loc="lower right")
        fig.suptitle(name, fontsize=style.FONT_SIZE + 1)
        return style.save(fig, out)
