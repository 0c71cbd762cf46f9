"""Placement of tensor-parallel groups on the fabric: which GPUs each replica gets.

Deterministic first-fit decreasing: groups are placed largest tp first (ties in deployment order,
spares last), each inside the first NVLink domain with enough free GPUs, or, when tp exceeds a
domain, on the first whole free hosts. With power-of-two tp and domain sizes this packs perfectly:
groups of one tp fill a domain side by side and no group is split across domains when it fits one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from chaos.errors import PlacementError
from chaos.topology.fabric import Fabric
from chaos.topology.paths import ring_link


@dataclass(frozen=True, slots=True)
class Placement:
    """One replica's TP group. `link_Bps`/`link_latency_s` describe its all-reduce ring's slowest hop.

    `cross_host` says the group spans several hosts; inside an NVL72 rack that is still all NVLink,
    so read the link speed from `link_Bps`, not from this flag.
    """

    replica_id: str
    role: str
    gpus: tuple[str, ...]
    tp: int
    link_Bps: float
    link_latency_s: float
    cross_host: bool
    hosts: tuple[str, ...] = ()


def role_field(role: str, attr: str) -> str:
    """Scenario field of a pool setting: aggregated pools live at the top of `deployment`."""
    if role == "spare":
        return "deployment.spares"
    return f"deployment.{attr}" if role == "aggregated" else f"deployment.{role}.{attr}"


def _check_groups(fabric: Fabric, groups: Sequence[tuple[str, int, int]], spares: int) -> None:
    spec = fabric.spec
    roles = set()
    for role, replicas, tp in groups:
        if role in roles or role == "spare":
            raise PlacementError(f"role {role!r} appears twice or clashes with the spare pool",
                                 field=f"deployment.{role}")
        roles.add(role)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise PlacementError(f"replicas must be a whole number >= 0 but got {replicas!r}",
                                 field=role_field(role, "replicas"))
        if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
            raise PlacementError(f"tp must be a whole number >= 1 but got {tp!r}", field=role_field(role, "tp"))
        if tp & (tp - 1):
            lower = 1 << (tp.bit_length() - 1)
            raise PlacementError(f"tp must be a power of two (1, 2, 4, 8, ...) so attention heads split "
                                 f"evenly, but got {tp}: use {lower} or {lower * 2}", field=role_field(role, "tp"))
        if tp > spec.domain_size and tp % spec.gpus_per_host:
            raise PlacementError(
                f"tp{tp} does not fit one NVLink domain of {spec.domain_size} GPUs and is not a multiple "
                f"of gpus_per_host={spec.gpus_per_host}, so it cannot span whole hosts", field=role_field(role, "tp"))
    if isinstance(spares, bool) or not isinstance(spares, int) or spares < 0:
        raise PlacementError(f"spares must be a whole number >= 0 but got {spares!r}", field="deployment.spares")
    if spares and not groups:
        raise PlacementError("spares copy the largest tp of the deployment, which has no groups",
                             field="deployment.spares")
    max_tp = max((tp for _, _, tp in groups), default=1)
    parts = [(role_field(role, "replicas"), f"{role} {n} x tp{tp}" if len(groups) > 1 else f"{n} x tp{tp}", n * tp)
             for role, n, tp in groups if n]
    if spares:
        parts.append(("deployment.spares", f"{spares} spare{'s' if spares > 1 else ''} x tp{max_tp}", spares * max_tp))
    needed = sum(p[2] for p in parts)
    if needed > spec.n_gpus:
        running, field = 0, parts[-1][0]
        for f, _, count in parts:
            running += count
            if running > spec.n_gpus:
                field = f
                break
        raise PlacementError(f"needs {needed} GPUs for {' + '.join(p[1] for p in parts)} but the fabric "
                             f"has {spec.n_gpus}: add hosts or lower replicas", field=field)


def place(fabric: Fabric, groups: Sequence[tuple[str, int, int]], spares: int = 0) -> list[Placement]:
    """Place `groups` of (role, replicas, tp) and `spares` idle groups of the largest tp.

    Replica ids are "<role>-<i>" and "spare-<i>"; the result lists them in deployment order, spares last.
    Raises PlacementError (field "deployment.<role>.replicas"/".tp", "deployment.replicas"/".tp" for the
    aggregated pool, "deployment.spares") when a group
    is invalid or the GPUs run out.
    """
    groups = [tuple(g) for g in groups]
    _check_groups(fabric, groups, spares)
    spec = fabric.spec
    max_tp = max((tp for _, _, tp in groups), default=1)
    wanted = [(role, f"{role}-{i}", tp) for role, n, tp in groups for i in range(n)]
    wanted += [("spare", f"spare-{i}", max_tp) for i in range(spares)]
    order = sorted(range(len(wanted)), key=lambda i: -wanted[i][2])  # stable: ties keep deployment order

    free = fabric.domains()                      # NVLink domain -> free GPUs, in order
    host_free = {h: set(fabric.gpus_of(h)) for h in fabric.hosts()}
    chosen: dict[int, tuple[str, ...]] = {}
    for i in order:
        role, replica_id, tp = wanted[i]
        gpus: list[str] = []
        if tp <= spec.domain_size:
            for domain, avail in free.items():
                if len(avail) >= tp:
                    gpus = avail[:tp]
                    break
        else:
            whole = [h for h in fabric.hosts() if len(host_free[h]) == spec.gpus_per_host]
            need = tp // spec.gpus_per_host
            if len(whole) >= need:
                gpus = [g for h in whole[:need] for g in fabric.gpus_of(h)]
        if not gpus:
            field = role_field(role, "replicas")
            what = (f"{tp} free GPUs in one NVLink domain" if tp <= spec.domain_size
                    else f"{tp // spec.gpus_per_host} whole free hosts")
            raise PlacementError(f"no room for {replica_id} (tp{tp}): no {what} left after placing "
                                 f"{len(chosen)} groups; use tp values that pack (powers of two) or add hosts",
                                 field=field)
        taken = set(gpus)
        for domain in {fabric.graph.nodes[g]["domain"] for g in gpus}:
            free[domain] = [g for g in free[domain] if g not in taken]
        for g in gpus:
            host_free[fabric.graph.nodes[g]["host"]].discard(g)
        chosen[i] = tuple(gpus)

    out = []
    for i, (role, replica_id, tp) in enumerate(wanted):
        gpus = chosen[i]
        hosts = tuple(dict.fromkeys(fabric.graph.nodes[g]["host"] for g in gpus))
        bw, lat = ring_link(fabric, gpus)
        out.append(Placement(replica_id, role, gpus, tp, bw, lat, len(hosts) > 1, hosts))
    return out
