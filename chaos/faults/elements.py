"""Faults that fail one graph element and repair it at the end: the topology decides the blast radius.

gpu_crash       an XID-style GPU loss: its TP group, and so its replica, goes down; in-flight requests
                on it lose their KV. A replica (explicit or selected) loses one of its GPUs, drawn
                from the fault's "faults" stream: which rank fails does not change the blast radius.
node_failure    a host and everything in it (GPUs, NICs, its NVSwitch); a selector picks hosts
                holding replicas of the role.
rack_failure    power loss of a rack: its hosts and its leaf switch (and a rack NVSwitch).
switch_failure  a leaf, spine or NVSwitch: the graph decides which paths break — replicas cut off
                from the frontend or their peers, cross-host TP rings with no route left. A selector
                picks the leaf switches of racks holding replicas of the role.
link_failure    a cable ("a--b"; a NIC id fails the NIC with its links): traffic reroutes over what
                remains (ECMP), else a partition. A selector picks replicas and fails the scale-out
                cables (nic--leaf) of all their GPUs.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from chaos.faults.base import FAULTS, PlanContext, PlannedFault, TimedFault, element_effect
from chaos.faults.target import FleetControl, FleetView


class ElementFault(TimedFault):
    """Fail each target element at the start (fail_element) and repair it at the end, last first."""

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for element in pf.targets:
            fleet.fail_element(element, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for element in reversed(pf.targets):
            fleet.repair_element(element, pf.cause)

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return element_effect(view, targets)


@FAULTS.register("gpu_crash")
class GpuCrash(ElementFault):
    """`{type: gpu_crash, at: 10m, target: {gpu: rack0/host1/gpu3}}` or `target: {role: decode, mode: one}`."""

    type: Literal["gpu_crash"] = "gpu_crash"
    explicit_keys: ClassVar[tuple[str, ...]] = ("gpu", "replica")
    target_kind: ClassVar[str] = "gpu"

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        if key == "gpu":
            return ids
        return [ctx.view.by_id[r].gpus[int(ctx.rng.integers(len(ctx.view.by_id[r].gpus)))] for r in ids]


@FAULTS.register("node_failure")
class NodeFailure(ElementFault):
    """`{type: node_failure, at: 5m, duration: 20m, target: {host: rack0/host2}}`."""

    type: Literal["node_failure"] = "node_failure"
    explicit_keys: ClassVar[tuple[str, ...]] = ("host",)
    selector_unit: ClassVar[str] = "host"
    target_kind: ClassVar[str] = "host"


@FAULTS.register("rack_failure")
class RackFailure(ElementFault):
    """`{type: rack_failure, at: 5m, target: {rack: rack1}}`: power loss of the whole rack."""

    type: Literal["rack_failure"] = "rack_failure"
    explicit_keys: ClassVar[tuple[str, ...]] = ("rack",)
    selector_unit: ClassVar[str] = "rack"
    target_kind: ClassVar[str] = "rack"


@FAULTS.register("switch_failure")
class SwitchFailure(ElementFault):
    """`{type: switch_failure, at: 5m, duration: 10m, target: {switch: rack0/leaf}}` (or spine0, .../nvswitch)."""

    type: Literal["switch_failure"] = "switch_failure"
    explicit_keys: ClassVar[tuple[str, ...]] = ("switch",)
    selector_unit: ClassVar[str] = "switch"
    target_kind: ClassVar[str] = "switch"


@FAULTS.register("link_failure")
class LinkFailure(ElementFault):
    """`{type: link_failure, at: 5m, target: {link: "rack0/leaf--spine0"}}`, `{nic: ...}` or a selector."""

    type: Literal["link_failure"] = "link_failure"
    explicit_keys: ClassVar[tuple[str, ...]] = ("link", "nic")
    target_kind: ClassVar[str] = "link"

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        if key == "replica":
            return [link for r in ids for link in ctx.view.uplinks(r)]
        return ids

    def kind_for(self, view: FleetView, targets: tuple[str, ...]) -> str:
        return "link" if targets and "--" in targets[0] else "nic"
