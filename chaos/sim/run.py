"""Run one scenario on a SimPy clock and collect its Result (request log, ITL samples, time series)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import simpy

from chaos.catalog import Catalog
from chaos.engine.itl import Bins, bin_samples, bins_to_samples, merge_bins, split_closed
from chaos.metrics import FleetSeries, ItlSamples, RequestLog, Summary, TimeSeries, summarize, time_series
from chaos.metrics.spill import ColumnFile, spilling
from chaos.metrics.tenants import TenantInfo, tenant_series, tenant_summaries
from chaos.routing import build_resilient_router
from chaos.routing.tenancy import build_gate
from chaos.sim.build import Fleet, build_fleet
from chaos.sim.driver import Driver
from chaos.sim.fate import RecoveryPolicy
from chaos.sim.gcpolicy import run_gc
from chaos.sim.supervision import Supervision, supervise
from chaos.workload.tenants import DEFAULT_TENANT, build_tenant_workload

# Without a duration the run lasts until every request is done; this caps a run that cannot drain.
DRAIN_CAP_S = 24 * 3600.0


@dataclass
class Result:
    """What a run produced: plain data, ready for metrics, journal and report."""

    scenario: object
    log: RequestLog
    itl: ItlSamples
    series: TimeSeries
    fleet_series: FleetSeries
    summary: Summary
    horizon_s: float
    fleet: Fleet | None
    supervision: Supervision | None = None
    stats: dict = field(default_factory=dict)
    tenants: list = field(default_factory=list)            # chaos.metrics.tenants.TenantInfo by id
    fair_weights: tuple[float, float] = (1.0, 2.0)         # engine.fair: service per prompt / output token
    tenant_summaries: dict = field(default_factory=dict)   # name -> Summary (with tenants: only)
    tenant_itl: dict = field(default_factory=dict)         # tenant id -> ItlSamples (with tenants: only)
    tenant_series: dict = field(default_factory=dict)      # name -> TimeSeries (with tenants: only)

    def slim(self) -> "Result":
        """The same result without the live fleet and supervision (what a baseline twin keeps: the
        comparison reads only the log, ITL, series, summary and stats)."""
        return replace(self, fleet=None, supervision=None)


def _sample_fleet(env: simpy.Environment, fleet: Fleet, series: FleetSeries, window_s: float):
    """Every window, record replicas up per pool, queue depth, running sequences, KV use and each
    replica's outstanding requests (the report's load heat map)."""
    pools = fleet.pools
    while True:
        replicas = [r for rs in pools.values() for r in rs]
        series.append(
            env.now,
            replicas_up={role: sum(1 for r in rs if r.alive) for role, rs in pools.items()},
            queue_depth=sum(r.num_waiting for r in replicas),
            running=sum(r.num_running for r in replicas),
            kv_use_frac=float(np.mean([r.kv_use_frac for r in replicas])) if replicas else 0.0,
            replica_load={rid: r.outstanding for rid, r in fleet.replicas.items()},
        )
        yield env.timeout(window_s)


ITL_FOLD_S = 600.0
"""Simulated seconds between folds of every replica's ITL bins into the fleet's one histogram."""


class _FleetItl:
    """The fleet's ITL histogram: every replica's binned samples merged per (window, gap), so a long run
    holds one set of bins, not one per replica (the metrics read the fleet's distribution only).

    With `spill` (chaos.metrics.spill) the bins of windows closed before the previous fold go to
    temporary column files, so memory holds about two fold intervals of bins however long the run; the
    final samples are the same values, memory-mapped (if a late sample ever lands in a window already
    written, everything is merged again at the end, so the result never depends on the mode)."""

    def __init__(self, window_s: float, spill: str = "off", tenants: bool = False) -> None:
        self.window_s = window_s
        self.tenants = _TenantSpill() if tenants else None   # per-tenant bins spill when these do
        self._bins: Bins | None = None    # the open windows' bins, sorted (chaos.engine.itl key space)
        self._spill = spill
        self._disk: tuple[ColumnFile, ColumnFile, ColumnFile] | None = None
        self._disk_last_t = -np.inf       # midpoint of the last window written
        self._ordered = True              # every spilled chunk starts after the previous one ends
        self._cut_s = 0.0                 # the previous fold's time: windows ending by then are closed
        self._final: ItlSamples | None = None

    def fold(self, fleet: Fleet, now_s: float | None = None) -> None:
        """Merge every replica's samples since the last fold into the bins (one sort for the fleet)."""
        parts = [self._bins] if self._bins is not None else []
        for replica in fleet.replicas.values():
            parts += replica.itl.drain_bins()
        if len(parts) > 1 or (parts and self._bins is None):
            self._bins = merge_bins(parts)
        if now_s is not None:
            cut, self._cut_s = self._cut_s, now_s
            if spilling(self._spill, (len(self._bins[1]) if self._bins is not None else 0) + self._spilled()):
                if self._bins is not None:
                    self._write_closed(cut)
                if self.tenants is not None:
                    self.tenants.write(fleet, cut)

    def _spilled(self) -> int:
        return self._disk[0].rows if self._disk is not None else 0

    def _write_closed(self, cut_s: float) -> None:
        """Move the bins of windows that ended by `cut_s` to the column files."""
        closed, self._bins = split_closed(self._bins, self.window_s, cut_s)
        if closed is None:
            return
        if self._disk is None:
            self._disk = _column_files()
        if closed[0][0] <= self._disk_last_t:
            self._ordered = False
        for f, col in zip(self._disk, closed):
            f.append(col)
        self._disk_last_t = float(closed[0][-1])

    def samples(self, fleet: Fleet) -> ItlSamples:
        if self._final is not None:
            return self._final
        self.fold(fleet)
        rest = bins_to_samples(self._bins, self.window_s) if self._bins is not None else None
        self._bins = None
        if self._disk is not None:
            if rest is not None and rest[0][0] <= self._disk_last_t:
                self._ordered = False
            if rest is not None:
                for f, col in zip(self._disk, rest):
                    f.append(col)
            t, g, w = (f.map() for f in self._disk)
            if not self._ordered:       # a window was written twice: merge as the in-memory path does
                t, g, w = bin_samples(t, g, w, self.window_s)
            self._final = ItlSamples(g, w, t)
        elif rest is None:
            self._final = ItlSamples(np.empty(0), np.empty(0), np.empty(0))
        else:
            t, g, w = rest
            self._final = ItlSamples(g, w, t)
        return self._final

    @property
    def spilled(self) -> bool:
        return self._disk is not None


def _column_files() -> tuple[ColumnFile, ColumnFile, ColumnFile]:
    """Column files for binned ITL samples: window midpoint, gap, weight (all float64)."""
    return ColumnFile(np.float64), ColumnFile(np.float64), ColumnFile(np.float64)


class _TenantSpill:
    """The per-tenant ITL bins of closed windows, moved from every replica's tenant recorders to disk
    (one set of column files per tenant) when the fleet's histogram spills, so a long run with tenants
    holds only open windows too. `samples` reassembles each tenant's arrays exactly as the in-memory
    path builds them: replica by replica, each replica's bins sorted."""

    def __init__(self) -> None:
        self._files: dict[int, tuple[ColumnFile, ColumnFile, ColumnFile]] = {}
        self._segments: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (tenant, replica) -> (row, rows)

    def write(self, fleet: Fleet, cut_s: float) -> None:
        for rid, replica in fleet.replicas.items():
            for tenant, cols in replica.take_closed_tenant_itl(cut_s).items():
                files = self._files.get(tenant)
                if files is None:
                    files = self._files[tenant] = _column_files()
                self._segments.setdefault((tenant, rid), []).append((files[0].rows, len(cols[0])))
                for f, col in zip(files, cols):
                    f.append(col)

    @property
    def spilled(self) -> bool:
        return bool(self._files)

    def samples(self, fleet: Fleet, window_s: float) -> dict[int, list[ItlSamples]]:
        """Tenant id -> one ItlSamples per replica (written windows, then those still in memory)."""
        maps = {tenant: [f.map() for f in files] for tenant, files in self._files.items()}
        parts: dict[int, list[ItlSamples]] = {}
        for rid, replica in fleet.replicas.items():
            rest = replica.tenant_itl_samples()
            for tenant in sorted(set(rest) | {t for t in maps if (t, rid) in self._segments}):
                t, g, w = maps.get(tenant, (None, None, None))
                pieces = [ItlSamples(g[i:i + n], w[i:i + n], t[i:i + n])
                          for i, n in self._segments.get((tenant, rid), ())]
                if tenant in rest:
                    a = rest[tenant]
                    pieces.append(ItlSamples(a.gaps_s, a.weights, a.t_s).compact(window_s))
                pieces = [p for p in pieces if len(p.gaps_s)]
                if any(a.t_s[-1] >= b.t_s[0] for a, b in zip(pieces, pieces[1:])):
                    # a late sample reopened a written window: bin as the in-memory path does
                    pieces = [ItlSamples.concat(pieces).compact(window_s)]
                parts.setdefault(tenant, []).extend(pieces)
        return parts


def _fold_itl(env: simpy.Environment, fleet: Fleet, itl: _FleetItl, every_s: float):
    while True:
        yield env.timeout(every_s)
        itl.fold(fleet, env.now)


@dataclass
class Assembly:
    """One scenario wired into an environment: the request path, the fleet, the router, detection,
    controller and faults started, and the fleet sampler running."""

    driver: Driver
    fleet: Fleet
    router: object
    supervision: Supervision
    fleet_series: FleetSeries


def assemble(scenario, env: simpy.Environment, workload, horizon_s: float | None,
             catalog: Catalog | None = None) -> Assembly:
    """Wire `scenario` into `env` with `workload` as its arrivals (`run` plays the scenario's own;
    `fleetchaos serve` gives an empty one and submits live requests through the driver)."""
    recovery = getattr(scenario, "recovery", None)
    driver = Driver(env, workload, horizon_s, RecoveryPolicy(recovery.requests, recovery.max_attempts)
                    if recovery is not None else RecoveryPolicy(), log_spill=scenario.metrics.spill)
    fleet = build_fleet(scenario, env, driver.on_event, catalog)
    router = build_resilient_router(scenario.router, scenario.seed, lambda: env.now)
    driver.tenancy = build_gate(getattr(scenario, "tenants", None), scenario.router.shedding)
    driver.attach(fleet, router)
    supervision = supervise(scenario, fleet, driver, router)
    fleet_series = FleetSeries()
    env.process(_sample_fleet(env, fleet, fleet_series, scenario.metrics.window))
    return Assembly(driver, fleet, router, supervision, fleet_series)


def run(scenario, *, catalog: Catalog | None = None,
        progress: Callable[[float, float], None] | None = None) -> Result:
    """Simulate `scenario`; `progress(sim_now_s, sim_end_s)` is called every simulated minute or so."""
    with run_gc() as freeze:                 # chaos.sim.gcpolicy: restored afterwards, also on errors
        return _run(scenario, catalog, progress, freeze)


def _run(scenario, catalog: Catalog | None, progress: Callable[[float, float], None] | None,
         freeze: Callable[[], None]) -> Result:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    env = simpy.Environment()
    horizon = scenario.duration
    workload = build_tenant_workload(scenario.workload, getattr(scenario, "tenants", None), seed=scenario.seed,
                                     base_dir=scenario.base_dir, duration_s=horizon)
    wired = assemble(scenario, env, workload, horizon, catalog)
    freeze()                                 # the wired fleet and workload live until the end
    driver, fleet, router = wired.driver, wired.fleet, wired.router
    supervision, fleet_series = wired.supervision, wired.fleet_series
    window_s = scenario.metrics.window
    driver.streams.bin_by(window_s)          # gaps after stalls: binned as they come, like the replicas'
    fleet_itl = _FleetItl(window_s, scenario.metrics.spill, tenants=bool(getattr(scenario, "tenants", None)))
    env.process(_fold_itl(env, fleet, fleet_itl, max(ITL_FOLD_S, window_s)))

    if horizon is not None:
        end = shown_end = horizon
    else:
        last_arrival = float(workload.arrival_s[-1]) if len(workload.arrival_s) else 0.0
        end = last_arrival + DRAIN_CAP_S
        shown_end = max(last_arrival, 1.0)     # the bar tracks arrivals; the drain after them is short
    chunk = max(60.0, shown_end / 200.0)
    while env.now < end and not driver.all_done.triggered:
        target = min(end, env.now + chunk)
        if horizon is None:
            env.run(until=env.any_of([driver.all_done, env.timeout(target - env.now)]))
        else:
            env.run(until=target)
        if progress is not None:
            progress(min(env.now, shown_end), shown_end)
    if horizon is not None:
        horizon_s = horizon
    else:
        horizon_s = driver.last_finish_s if driver.all_done.triggered else env.now

    log = driver.request_log(horizon_s)
    # ITL as the client receives it: replicas' uninterrupted decode gaps (the fleet's histogram) plus
    # the gaps after stalls
    stalls = driver.streams.gaps
    itl = ItlSamples.concat([fleet_itl.samples(fleet),
                             ItlSamples(stalls.gaps_s, stalls.weights, stalls.times_s).compact(window_s)],
                            mapped=fleet_itl.spilled)
    slo = scenario.slo.to_slo() if scenario.slo is not None else None
    summary = summarize(log, itl=itl, slo=slo, window=(0.0, horizon_s))
    tenant_itl = _tenant_itl(fleet, driver.streams, window_s, fleet_itl.tenants) if getattr(scenario, "tenants", None) else {}
    series = time_series(log, window_s=window_s, t_end=horizon_s, slo=slo)
    tenants = tenant_infos(scenario, slo)
    per_tenant = getattr(scenario, "tenants", None)
    wall = time.perf_counter() - wall0
    stats = {"wall_s": wall, "cpu_s": time.process_time() - cpu0, "sim_s": horizon_s, "requests": len(log),
             "router": router.stats(),
             "request_path": dict(driver.stats)}
    if driver.tenancy is not None:
        stats["tenancy"] = driver.tenancy.stats()
    fair = scenario.engine.fair
    return Result(scenario=scenario, log=log, itl=itl, series=series, fleet_series=fleet_series,
                  summary=summary, horizon_s=horizon_s, fleet=fleet, supervision=supervision, stats=stats,
                  tenants=tenants, fair_weights=(fair.input_weight, fair.output_weight),
                  tenant_itl=tenant_itl,
                  tenant_summaries=tenant_summaries(log, tenants, (0.0, horizon_s), tenant_itl) if per_tenant else {},
                  tenant_series=tenant_series(log, tenants, window_s=window_s, t_end=horizon_s) if per_tenant else {})


def tenant_infos(scenario, slo) -> list[TenantInfo]:
    """TenantInfo by id: the scenario's tenants (own slo:, else the scenario's), or one "default"."""
    tenants = getattr(scenario, "tenants", None)
    if not tenants:
        return [TenantInfo(DEFAULT_TENANT, 0, slo)]
    return [TenantInfo(t.name, i, t.slo.to_slo() if t.slo is not None else slo, float(t.weight), int(t.priority))
            for i, t in enumerate(tenants)]


def _tenant_itl(fleet, streams, window_s: float, spilled: _TenantSpill | None = None) -> dict[int, ItlSamples]:
    """ITL as each tenant's clients receive it: the replicas' per-tenant decode gaps plus the tenant's
    gaps after stalls (tenant id -> samples; the tenants' weights sum to the fleet's)."""
    if spilled is not None and spilled.spilled:
        parts = spilled.samples(fleet, window_s)
    else:
        parts = {}
        for replica in fleet.replicas.values():
            for tenant, a in replica.tenant_itl_samples().items():
                parts.setdefault(tenant, []).append(ItlSamples(a.gaps_s, a.weights, a.t_s).compact(window_s))
    for tenant, rec in streams.by_tenant.items():
        parts.setdefault(tenant, []).append(ItlSamples(rec.gaps_s, rec.weights, rec.times_s).compact(window_s))
    mapped = spilled is not None and spilled.spilled
    return {tenant: ItlSamples.concat(p, mapped=mapped) for tenant, p in sorted(parts.items())}
