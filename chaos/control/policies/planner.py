"""Replica counts a pool needs for the observed load (the Dynamo-planner formula), shared by rerole
and autoscale.

With arrival rate lambda (requests/s), mean input and output lengths I and O (tokens), per-replica
capacities C_prefill (prompt tokens/s) and C_decode (output tokens/s) from the perf model at the
pool's TP, and a target utilisation u:

    prefill     = ceil(lambda * I / (C_prefill * u))
    decode      = ceil(lambda * O / (C_decode * u))
    aggregated  = ceil(lambda * (I / C_prefill + O / C_decode) / u)   (one replica does both kinds of work)

then clamped to the pool's [min, max] bounds. No load gives 0 before clamping.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from chaos.control.plane import LoadSnapshot

if TYPE_CHECKING:
    from chaos.control.config import PoolBounds
    from chaos.control.plane import ControlPlane

_EPS = 1e-9


def replicas_needed(load: LoadSnapshot, pool: str, capacity_prefill: float, capacity_decode: float,
                    target_utilization: float) -> int:
    """Unclamped replica count of `pool` (aggregated | prefill | decode) for `load` (formula above)."""
    rate = max(load.arrival_rate_per_s, 0.0)
    if pool == "prefill":
        busy = rate * load.mean_input_tokens / capacity_prefill
    elif pool == "decode":
        busy = rate * load.mean_output_tokens / capacity_decode
    else:
        busy = rate * (load.mean_input_tokens / capacity_prefill + load.mean_output_tokens / capacity_decode)
    return max(0, math.ceil(busy / target_utilization - _EPS))


def clamp(n: int, bounds: "PoolBounds") -> int:
    n = max(n, bounds.min)
    return n if bounds.max is None else min(n, bounds.max)


def pool_need(plane: "ControlPlane", load: LoadSnapshot, pool: str, tp: int, target_utilization: float,
              bounds: "PoolBounds") -> tuple[int, str]:
    """(clamped need, explanation for the journal) of a pool whose replicas have TP `tp`."""
    cap_p = plane.capacity("prefill", tp) if pool != "decode" else math.nan
    cap_d = plane.capacity("decode", tp) if pool != "prefill" else math.nan
    raw = replicas_needed(load, pool, cap_p, cap_d, target_utilization)
    caps = "/".join(f"{c:.0f}" for c in (cap_p, cap_d) if not math.isnan(c))
    why = (f"{load.arrival_rate_per_s:.2f} req/s x ({load.mean_input_tokens:.0f} in, "
           f"{load.mean_output_tokens:.0f} out) tokens on {caps} tok/s per TP{tp} replica at "
           f"{target_utilization:g} -> {raw}")
    return clamp(raw, bounds), why
