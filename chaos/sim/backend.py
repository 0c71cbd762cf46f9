"""The deployment's backend profile applied to one run: efficiency factors, scheduler defaults, and the
record of where its latencies come from (DESIGN principle 9; the journal's `fleet.latency`).

The scheduler interface to the engine is deliberately small: the profile fills the `engine:` fields the
scenario left unset (chunked_prefill, max_num_batched_tokens, max_num_seqs, block_size, prefix_cache),
and `scheduler_behaviour` names the profile's preemption and mixing policies for the engine to read.
Behaviours the engine does not implement yet are listed as approximations in the record, not dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from chaos.catalog import BackendSpec, Catalog
from chaos.engine.config import EngineConfig
from chaos.errors import InputError
from chaos.perf import Efficiency, PerfModel
from chaos.perf.sources import TableCost, load_latency_table

# Engine fields a profile may default, and how a SchedulerSpec value maps onto them.
_ENGINE_DEFAULTS = ("chunked_prefill", "max_num_batched_tokens", "max_num_seqs", "block_size", "prefix_cache",
                    "kv_admission")
# What the engine implements today (chaos/engine/scheduler.py): vLLM V1-style decode-first mixing,
# recompute preemption, a prefix cache keyed by the workload's hash blocks with LRU eviction.
ENGINE_PREEMPTION = "recompute"
ENGINE_MIXING = "decode_first"


@dataclass(frozen=True)
class BackendSetup:
    """What one run takes from its backend profile and `latency:` section."""

    backend: BackendSpec
    efficiency: Efficiency
    engine: EngineConfig
    latency: dict = field(default_factory=dict)      # the journal's record of the latency source
    wrap_cost: Callable[[PerfModel], object] = lambda perf: perf   # roofline -> the run's IterationCost


def efficiency_of(backend: BackendSpec) -> Efficiency:
    """The profile's efficiency factors as the perf model's dataclass."""
    return Efficiency(**backend.factors())


def scheduler_behaviour(backend: BackendSpec) -> dict[str, str]:
    """The profile's scheduler policies the engine may switch on: preemption and mixing."""
    return {"preemption": backend.scheduler.preemption, "mixing": backend.scheduler.mixing,
            "prefix_cache": backend.scheduler.prefix_cache}


def engine_with_defaults(engine: EngineConfig, backend: BackendSpec) -> EngineConfig:
    """`engine` with every field the scenario did not set taken from the profile's scheduler."""
    s = backend.scheduler
    profile = {"chunked_prefill": s.chunked_prefill, "max_num_batched_tokens": s.max_num_batched_tokens,
               "max_num_seqs": s.max_num_seqs, "block_size": s.block_size,
               "prefix_cache": s.prefix_cache != "none", "kv_admission": s.kv_admission}
    unset = {k: v for k, v in profile.items() if k in _ENGINE_DEFAULTS and k not in engine.model_fields_set}
    return engine.model_copy(update=unset) if unset else engine


def approximations(backend: BackendSpec) -> list[str]:
    """Profile behaviours the engine models by its nearest implemented one (reported in the journal)."""
    s, out = backend.scheduler, []
    if s.prefix_cache == "radix_lru":
        out.append("prefix_cache radix_lru: modelled by the engine's prefix cache keyed by the workload's "
                   "hash blocks with LRU eviction (the same matches at that granularity)")
    if s.preemption != ENGINE_PREEMPTION:
        out.append(f"preemption {s.preemption}: the engine preempts by recompute ({s.preemption} is not built)")
    if s.mixing != ENGINE_MIXING:
        out.append(f"mixing {s.mixing}: the engine schedules running decodes first ({s.mixing} is not built)")
    return out


def setup_backend(scenario, catalog: Catalog) -> BackendSetup:
    """Resolve `engine.backend`, apply the scenario's `efficiency:` overrides and engine defaults."""
    engine: EngineConfig = scenario.engine
    try:
        backend = catalog.backend(engine.backend)
    except InputError as err:
        if not err.field:
            err.field = "engine.backend"
        raise
    try:
        efficiency = scenario.efficiency.to_efficiency(efficiency_of(backend))
    except InputError as err:
        err.field = err.field or "efficiency"
        raise
    latency = {
        "source": "roofline",
        "backend": backend.name,
        "efficiency": efficiency.to_dict(),
        "overrides": scenario.efficiency.overrides(),
        "factor_sources": dict(backend.sources),
        "calibration": list(backend.calibration),
        "scheduler": {**scheduler_behaviour(backend), "source": backend.scheduler.source,
                      "approximations": approximations(backend)},
    }
    wrap = _latency_source(scenario, latency)
    return BackendSetup(backend, efficiency, engine_with_defaults(engine, backend), latency, wrap)


def _latency_source(scenario, latency: dict) -> Callable[[PerfModel], object]:
    """The scenario's `latency:` choice as a wrapper around the roofline; updates the journal record."""
    cfg = getattr(scenario, "latency", None)
    if cfg is None or cfg.source == "roofline":
        return lambda perf: perf
    if cfg.source == "aiconfigurator":
        return _aiconfigurator_source(latency, latency["backend"], cfg.fallback)
    table = load_latency_table(scenario.resolve_path(cfg.table))
    latency.update(source="table", table=table.path, roofline_backend=latency.get("backend"),
                   extrapolation="outside the table's grid: the backend profile's roofline growth along each "
                                 "axis, scaled to meet the table at its edge",
                   grid={"tokens": [float(table.tokens[0]), float(table.tokens[-1])],
                         "context": [float(table.context[0]), float(table.context[-1])]})
    if table.adjusted:
        latency["warnings"] = [f"{table.adjusted} table values raised to make latency monotone in tokens and context"]
    return lambda perf: TableCost(table, perf, perf.slowdown)


def _aiconfigurator_source(latency: dict, backend: str, fallback: str | None) -> Callable[[PerfModel], object]:
    """`latency: {source: aiconfigurator}`: each replica shape's grids (built or read from the cache the
    first time the shape is seen); where aiconfigurator cannot serve a shape, its error, or with
    `fallback: roofline` the roofline and a warning in the journal."""
    from chaos.perf.aiconfigurator import AiconfiguratorUnavailable, aiconfigurator_cost, record

    latency.update(source="aiconfigurator", shapes={})

    def wrap(perf: PerfModel):
        name = f"{perf.model.name} on {perf.tp} x {perf.gpu.name}"
        try:
            cost = aiconfigurator_cost(perf, backend)
        except AiconfiguratorUnavailable as err:
            if fallback != "roofline":
                raise
            warning = f"{name}: {err.message}; using the roofline (fallback: roofline)"
            if warning not in latency.setdefault("warnings", []):
                latency["warnings"].append(warning)
            latency["shapes"][name] = {"source": "roofline", "reason": err.message}
            return perf
        if name not in latency["shapes"]:
            latency["shapes"][name] = record(cost.tables)
        return cost

    return wrap
