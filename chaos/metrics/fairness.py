"""Fairness between tenants per window: Jain's index over weighted service, and VTC's service gap.

A request's service is w_p x its prompt tokens + w_q x its generated tokens (the Virtual Token
Counter's measure; Sheng et al., OSDI 2024, §3 — w_p, w_q are engine.fair's input/output weights),
counted in the window where it left the system (finish_s; the horizon for requests still in flight),
as throughput_tok_s counts tokens. A tenant's normalised service is its service / its weight.
A tenant is *active* in a window when it had a request in the system during it (arrived before the
window's end and left at or after its start, or still in flight). Over the active tenants:
  jain_index       (sum x)^2 / (n sum x^2), 1 = perfectly fair (Jain, Chiu and Hawe, DEC-TR-301, 1984);
  service_gap_max  max - min of x (weighted tokens): VTC bounds it by 2U for backlogged tenants.
Fewer than two active tenants, or no service at all: NaN ("no data").
"""
from __future__ import annotations

import numpy as np

from chaos.metrics.log import Status


def normalised_service(run, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(service / weight, active) arrays of shape (tenants, windows) for run.tenants."""
    from chaos.metrics.probes import assign
    log, tenants = run.log, run.tenants
    w_in, w_out = run.fair_weights
    horizon = run.horizon_s
    leave = np.where(np.isnan(log.finish_s), horizon, log.finish_s)
    k = assign(leave, t0, t1, horizon)
    cost = w_in * log.input_tokens.astype(np.float64) + w_out * log.generated_tokens.astype(np.float64)
    n = len(t0)
    x = np.zeros((len(tenants), n))
    active = np.zeros((len(tenants), n), dtype=bool)
    gone = np.where(log.status == Status.IN_FLIGHT, np.inf, leave)
    for i, t in enumerate(tenants):
        mine = log.tenant == t.id
        ok = mine & (k >= 0)
        x[i] = np.bincount(k[ok], weights=cost[ok], minlength=n)[:n] / t.weight
        arr, out = log.arrival_s[mine], gone[mine]
        for j in range(n):
            active[i, j] = bool(np.any((arr < t1[j]) & (out >= t0[j])))
    return x, active


def jain_index(run, t0, t1, slo=None) -> np.ndarray:
    x, active = normalised_service(run, np.asarray(t0), np.asarray(t1))
    out = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        v = x[active[:, j], j]
        if len(v) >= 2 and (v ** 2).sum() > 0:
            out[j] = v.sum() ** 2 / (len(v) * (v ** 2).sum())
    return out


def service_gap_max(run, t0, t1, slo=None) -> np.ndarray:
    x, active = normalised_service(run, np.asarray(t0), np.asarray(t1))
    out = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        v = x[active[:, j], j]
        if len(v) >= 2 and v.sum() > 0:
            out[j] = float(v.max() - v.min())
    return out
