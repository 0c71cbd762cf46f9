"""Who finds failures and who acts on them in a run: health probes and the progress watchdog feed the
router (ejection) and the controller (reconfiguration); faults are planned and played on the fleet.

Detection is the only path from a fault's truth to the router and the controller (DESIGN principle 5).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chaos.control import CombinedDetection, HealthMonitor, ProgressWatchdog, build_controller
from chaos.errors import InputError
from chaos.faults import PlannedFault, plan, start_faults
from chaos.sim.nodes import NodeLifecycle
from chaos.sim.plane import FleetPlane


@dataclass
class Detection:
    """One verdict a detector reached, for the journal."""

    t_s: float
    replica: str
    healthy: bool
    reason: str


@dataclass
class Supervision:
    """The detectors, controller and fault plan of one run."""

    planned: list[PlannedFault]
    controller: object
    monitors: list = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    nodes: object = None              # chaos.sim.nodes.NodeLifecycle


def plan_faults(scenario, fleet) -> list[PlannedFault]:
    """The scenario's faults resolved on the real fabric and placement (errors name faults[i])."""
    try:
        return plan(scenario.faults, fabric=fleet.fabric, placements=fleet.placements, seed=scenario.seed,
                    horizon_s=scenario.duration)
    except InputError as err:
        if not err.field:
            err.field = "faults"
        raise


def supervise(scenario, fleet, driver, router) -> Supervision:
    """Start detection, the controller and the faults; returns what the journal needs from them."""
    env = fleet.env
    planned = plan_faults(scenario, fleet)
    plane = FleetPlane(fleet, driver)
    controller = build_controller(scenario.controller, plane)
    sup = Supervision(planned=planned, controller=controller)

    def to_router(replica_id: str, healthy: bool, reason: str, t: float) -> None:
        sup.detections.append(Detection(t, replica_id, healthy, f"router: {reason}"))
        router.mark(replica_id, healthy, reason, t)
        if not healthy:
            driver.on_marked_down(replica_id)

    def to_controller(replica_id: str, healthy: bool, reason: str, t: float) -> None:
        sup.detections.append(Detection(t, replica_id, healthy, f"controller: {reason}"))
        if healthy:
            controller.on_replica_up(replica_id, t)
        else:
            controller.on_replica_down(replica_id, reason, t)

    # The router learns from its health probes (if configured) and the watchdog; the controller from
    # the orchestrator's liveness probe (always on) and the watchdog.
    router_view, controller_view = CombinedDetection(to_router), CombinedDetection(to_controller)
    members = fleet.replicas_of()
    monitors = [HealthMonitor(env, members, fleet.liveness_probe, scenario.controller.liveness, controller_view)]
    if scenario.router.health is not None:
        monitors.append(HealthMonitor(env, members, fleet.probe, scenario.router.health, router_view))
    watchdog = scenario.router.watchdog
    if watchdog is not None:
        def both(replica_id: str, healthy: bool, reason: str, t: float) -> None:
            router_view(replica_id, healthy, reason, t)
            controller_view(replica_id, healthy, reason, t)
        sup.monitors.append(ProgressWatchdog(env, lambda: [r for rs in fleet.pools.values() for r in rs],
                                             watchdog, both))
    sup.monitors.extend(monitors)

    def membership(replica_id: str, member: bool) -> None:
        for monitor in monitors:
            if member:
                monitor.add(replica_id)
            else:
                monitor.remove(replica_id)
        if not member:
            for view in (router_view, controller_view):
                view.forget(replica_id)
    fleet.on_membership = membership
    # a dead host reports nothing: the control plane learns of it from the node lifecycle
    plane.nodes = NodeLifecycle(env, scenario.controller.node, fleet.hosts_of, fleet.replicas_on_host,
                                controller_view)
    fleet.on_host = plane.nodes.host_changed
    sup.nodes = plane.nodes
    controller.start(env)
    start_faults(env, planned, fleet)
    return sup
