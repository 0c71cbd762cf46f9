"""Helpers for the faults room's tests: real fabrics from topologies/ and a FleetControl fake that records calls."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import simpy
import yaml

from chaos.faults import load_faults
from chaos.topology import Fabric, build_fabric, load_fabric_spec

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
H100_NVLINK_BPS = 450e9   # NVLink 4, one direction
NIC_400G_BPS = 50e9       # ConnectX-7 400 Gb/s


def load_fabric(name: str) -> Fabric:
    spec = load_fabric_spec(yaml.safe_load((TOPOLOGIES / f"{name}.yaml").read_text()))
    return build_fabric(spec, nvlink_Bps=H100_NVLINK_BPS, nic_Bps=NIC_400G_BPS)


def faults(text: str):
    """Validated fault models from YAML text."""
    return load_faults(yaml.safe_load(text))


class FakeFleet:
    """FleetControl that records (time, method, args) and serves a constant-rate workload."""

    def __init__(self, env: simpy.Environment, fabric: Fabric, placements, rate_per_s: float = 20.0,
                 lengths=(np.array([100, 200, 300]), np.array([10, 20, 30]))) -> None:
        self.env = env
        self.fabric = fabric
        self.placements = {p.replica_id: p for p in placements}
        self.rate_per_s = rate_per_s
        self.lengths = lengths
        self.calls: list[tuple] = []
        self.arrivals: list[tuple] = []

    def _rec(self, *call) -> None:
        self.calls.append((self.env.now, *call))

    def fail_element(self, element, cause):
        self._rec("fail_element", element, cause)

    def repair_element(self, element, cause):
        self._rec("repair_element", element, cause)

    def degrade_link(self, link, factor, cause):
        self._rec("degrade_link", link, factor, cause)

    def restore_link(self, link, cause):
        self._rec("restore_link", link, cause)

    def stall_replica(self, replica_id, silent, cause):
        self._rec("stall_replica", replica_id, silent, cause)

    def resume_replica(self, replica_id, cause):
        self._rec("resume_replica", replica_id, cause)

    def slow_gpu(self, gpu, factor, cause):
        self._rec("slow_gpu", gpu, factor, cause)

    def restore_gpu_speed(self, gpu, cause):
        self._rec("restore_gpu_speed", gpu, cause)

    def reduce_kv(self, replica_id, fraction_lost, cause):
        self._rec("reduce_kv", replica_id, fraction_lost, cause)

    def restore_kv(self, replica_id, cause):
        self._rec("restore_kv", replica_id, cause)

    def partition(self, replica_ids, cause):
        self._rec("partition", tuple(replica_ids), cause)

    def heal_partition(self, replica_ids, cause):
        self._rec("heal_partition", tuple(replica_ids), cause)

    def crash_replica(self, replica_id, cause):
        self._rec("crash_replica", replica_id, cause)

    def add_arrivals(self, arrival_s, input_tokens, output_tokens, hash_ids, cause, tenant=None):
        self._rec("add_arrivals", len(arrival_s), cause)
        self.arrivals.append((np.asarray(arrival_s), np.asarray(input_tokens), np.asarray(output_tokens), hash_ids))

    def workload_lengths(self, tenant=None):
        return self.lengths

    def workload_rate(self, t0, t1, tenant=None):
        return self.rate_per_s

    def workload_tenants(self):
        return None

    def tenant_id(self, name):
        return {"default": 0, "batch": 1}[name]

    def shift_cost(self, tenant, prompt_factor, output_factor, cause):
        self._rec("shift_cost", tenant, cause)

    def unshift_cost(self, tenant, cause):
        self._rec("unshift_cost", tenant, cause)

    def methods(self) -> list[str]:
        return [c[1] for c in self.calls]
