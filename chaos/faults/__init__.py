"""Fault injection: fault types (FAULTS), targets, timing, the dry-run plan and the process that plays it.

Faults act only through `FleetControl` (chaos.faults.target), implemented by the simulation.
"""
from chaos.faults.base import FAULTS, FaultBase, PlannedFault, TimedFault
from chaos.faults.config import FaultConfig, FaultsConfig, load_faults
from chaos.faults.dist import Lifetime, RepairTime
from chaos.faults.elements import GpuCrash, LinkFailure, NodeFailure, RackFailure, SwitchFailure
from chaos.faults.errors import FaultError
from chaos.faults.link_degradation import LinkDegradation
from chaos.faults.plan import describe, plan
from chaos.faults.random_failures import LLAMA3_MIX, LLAMA3_RATE_PER_GPU_S, RandomFailures
from chaos.faults.replica_faults import KvCapacityLoss, NetworkPartition, SchedulerStall
from chaos.faults.run import FAULT_PRIORITY, start_faults
from chaos.faults.straggler import Straggler
from chaos.faults.target import FleetControl, TargetSpec
from chaos.faults.tenant_faults import CostShift, TenantSpike
from chaos.faults.traffic_spike import TrafficSpike

__all__ = [
    "FAULTS", "FAULT_PRIORITY", "FaultBase", "FaultConfig", "FaultError", "FaultsConfig", "FleetControl",
    "GpuCrash", "KvCapacityLoss", "LLAMA3_MIX", "LLAMA3_RATE_PER_GPU_S", "Lifetime", "LinkDegradation",
    "LinkFailure", "NetworkPartition", "NodeFailure", "PlannedFault", "RackFailure", "RandomFailures",
    "RepairTime", "CostShift", "TenantSpike", "SchedulerStall", "Straggler", "SwitchFailure", "TargetSpec", "TimedFault", "TrafficSpike",
    "describe", "load_faults", "plan", "start_faults",
]
