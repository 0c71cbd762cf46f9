"""Per-tenant views of a run: the request log, summary, time series and probe data of one tenant.

A run without `tenants:` has one tenant, "default" (id 0), whose view is the whole run. A tenant's
latencies, throughput and request counts come from its own requests only; its ITL from the gaps its
own streams saw: each engine iteration's gap counted once per decoding sequence of the tenant (the
replica keeps them by tenant, chaos.engine.itl.TenantITL), plus its gaps after stalls.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

import numpy as np

from chaos.metrics.log import RequestLog
from chaos.metrics.series import TimeSeries, time_series
from chaos.metrics.summary import Slo, Summary, summarize

if TYPE_CHECKING:
    from chaos.metrics.probes import RunData


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """What the metrics need of a tenant: name, id (its request-log `tenant` value), per-request
    targets (its own slo:, else the scenario's), fair-share weight and priority."""
    name: str
    id: int
    slo: Slo | None = None
    weight: float = 1.0
    priority: int = 1


def tenant_log(log: RequestLog, tenant_id: int) -> RequestLog:
    """The requests of one tenant."""
    return log.select(log.tenant == tenant_id)


def tenant_run(run: "RunData", info: TenantInfo) -> "RunData":
    """`run` restricted to one tenant's requests and ITL samples (fleet series kept: queue depth and
    replicas are shared)."""
    itl = (run.tenant_itl or {}).get(info.id) if run.tenant_itl is not None else None
    return replace(run, log=tenant_log(run.log, info.id), itl=itl)


def tenant_summaries(log: RequestLog, tenants: Sequence[TenantInfo], window: tuple[float, float],
                     itl: dict | None = None) -> dict[str, Summary]:
    """summary of each tenant's requests over `window`, with the tenant's own SLO and ITL samples
    (`itl`: tenant id -> ItlSamples; a tenant without any has an empty ITL)."""
    from chaos.metrics.quantile import ItlSamples
    empty = ItlSamples(np.empty(0), np.empty(0), np.empty(0))
    return {t.name: summarize(tenant_log(log, t.id), itl=(itl or {}).get(t.id, empty) if itl is not None else None,
                              slo=t.slo, window=window) for t in tenants}


def tenant_series(log: RequestLog, tenants: Sequence[TenantInfo], *, window_s: float,
                  t_end: float) -> dict[str, TimeSeries]:
    """time_series of each tenant's requests, with the tenant's own SLO."""
    return {t.name: time_series(tenant_log(log, t.id), window_s=window_s, t_end=t_end, slo=t.slo) for t in tenants}


def find_tenant(tenants: Sequence[TenantInfo], name: str) -> TenantInfo:
    for t in tenants:
        if t.name == name:
            return t
    raise ValueError(f"unknown tenant {name!r}; expected one of {', '.join(t.name for t in tenants)}")
