"""Turn a validated Scenario into a live fleet: catalog specs, fabric graph, placement, perf models, replicas.

Every semantic check that needs more than the schema (the model and GPU exist, the model fits in
HBM at that TP, the TP group fits the fabric) happens here and raises an InputError whose `field`
names the scenario key, so the caller can point at the YAML line.
"""
from __future__ import annotations

from typing import Callable

import simpy

from chaos.catalog import Catalog, GPUSpec, ModelSpec, load_catalog
from chaos.engine.scheduling import TenantTable
from chaos.errors import CatalogError, InputError, expected_one_of
from chaos.perf import kv_capacity_tokens
from chaos.sim.backend import setup_backend
from chaos.sim.fleet import Fleet
from chaos.topology import build_fabric, place
from chaos.topology.config import FabricSpec


def _with_field(err: InputError, field_path: str) -> InputError:
    if not err.field:
        err.field = field_path
    return err


def scenario_catalog(scenario, extra_dirs=()) -> Catalog:
    """The bundled catalog plus the scenario's `catalog:` folders and any given on the command line."""
    dirs = [scenario.resolve_path(d) for d in scenario.catalog]
    for i, d in enumerate(dirs):   # a missing folder is the scenario's mistake: point at its line
        if not d.exists():
            raise CatalogError(f"catalog folder or file {str(d)!r} does not exist (relative paths are taken "
                               f"from the scenario file's folder)", field=f"catalog[{i}]")
    try:
        return load_catalog([*dirs, *extra_dirs])
    except InputError as err:
        raise _with_field(err, "catalog")


def resolve_specs(scenario, catalog: Catalog | None = None) -> tuple[Catalog, ModelSpec, GPUSpec, FabricSpec]:
    """Catalog entries of the scenario's model and GPU; errors name deployment.model / topology.gpu."""
    if catalog is None:
        catalog = scenario_catalog(scenario)
    fabric_spec: FabricSpec = scenario.topology
    try:
        model = catalog.model(scenario.deployment.model)
    except InputError as err:
        raise _with_field(err, "deployment.model")
    try:
        gpu = catalog.gpu(fabric_spec.gpu)
    except InputError as err:
        raise _with_field(err, "topology.gpu")
    return catalog, model, gpu, fabric_spec


def pool_groups(scenario) -> list[tuple[str, int, int]]:
    """(role, replicas, tp) per pool of the deployment, in placement order."""
    dep = scenario.deployment
    if dep.mode == "disaggregated":
        return [("prefill", dep.prefill.replicas, dep.prefill.tp), ("decode", dep.decode.replicas, dep.decode.tp)]
    return [("aggregated", dep.replicas, dep.tp)]


def build_fleet(scenario, env: simpy.Environment, on_event: Callable, catalog: Catalog | None = None) -> Fleet:
    """Place the deployment on the fabric and start one engine process per replica (spares stay idle)."""
    catalog, model, gpu, fabric_spec = resolve_specs(scenario, catalog)
    backend = setup_backend(scenario, catalog)
    fabric = build_fabric(fabric_spec, nvlink_Bps=gpu.nvlink_Bps, nic_Bps=gpu.nic_Bps)
    placements = place(fabric, pool_groups(scenario), spares=scenario.deployment.spares)
    engine = backend.engine
    for role, _, tp in pool_groups(scenario):
        try:
            kv_capacity_tokens(model, gpu, tp, memory_fraction=engine.gpu_memory_utilization,
                               max_num_batched_tokens=engine.max_num_batched_tokens,
                               max_num_seqs=engine.max_num_seqs)
        except InputError as err:
            if role != "aggregated" and err.field in (None, "deployment.tp"):
                err.field = f"deployment.{role}.tp"
            raise _with_field(err, "deployment.tp")
    if scenario.router.hedging is not None and scenario.deployment.mode == "disaggregated":
        raise InputError("hedging is built for aggregated deployments only; a disaggregated deployment "
                         "cannot hedge yet: remove router.hedging or use mode: aggregated",
                         field="router.hedging")
    check_isolation(scenario, placements)
    recovery = getattr(scenario, "recovery", None)
    fleet = Fleet(env, model=model, gpu=gpu, fabric=fabric, placements=placements, engine=engine,
                 on_event=on_event, kv_replication=recovery is not None and recovery.requests == "kv_replica",
                 efficiency=backend.efficiency, latency_source=backend.latency, wrap_cost=backend.wrap_cost,
                 itl_window_s=scenario.metrics.window, tenants=tenant_table(scenario))
    fleet.tenant_names = scenario.tenant_names() if hasattr(scenario, "tenant_names") else ["default"]
    return fleet


def check_isolation(scenario, placements) -> None:
    """Every name in a tenant's isolation set is a pool of the deployment or one of its replicas."""
    known = {p.replica_id for p in placements if p.role != "spare"} | {role for role, _, _ in pool_groups(scenario)}
    for i, t in enumerate(getattr(scenario, "tenants", None) or ()):
        for j, name in enumerate(t.isolation or ()):
            if name not in known:
                raise InputError(f"isolation: {expected_one_of(name, known)}", field=f"tenants[{i}].isolation[{j}]")


def tenant_table(scenario) -> TenantTable | None:
    """Priorities and weights of the scenario's tenants by id (None without tenants:)."""
    tenants = getattr(scenario, "tenants", None)
    if not tenants:
        return None
    return TenantTable(priorities=tuple(int(t.priority) for t in tenants),
                       weights=tuple(float(t.weight) for t in tenants))


def check_scenario(scenario, catalog: Catalog | None = None) -> Fleet:
    """Everything `run` would refuse, without simulating: specs, placement, HBM fit, workload files."""
    from chaos.workload.tenants import build_tenant_workload

    from chaos.sim.supervision import plan_faults

    build_tenant_workload(scenario.workload, getattr(scenario, "tenants", None), seed=scenario.seed,
                          base_dir=scenario.base_dir, duration_s=scenario.duration)
    fleet = build_fleet(scenario, simpy.Environment(), lambda *a: None, catalog)
    plan_faults(scenario, fleet)
    return fleet
