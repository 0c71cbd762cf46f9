"""Fixtures for the faults room: real fabrics, placements, and a runner for plans against a FakeFleet."""
from __future__ import annotations

import pytest
import simpy

from chaos.faults import start_faults
from chaos.topology import Fabric, place
from fault_helpers import FakeFleet, load_fabric


@pytest.fixture
def h100_4x8() -> Fabric:
    """One rack, 4 hosts x 8 H100, leaf + 2 spines."""
    return load_fabric("h100-4x8-ib")


@pytest.fixture
def mixed(h100_4x8):
    """prefill-0/1 (tp4) on host 3, decode-0 (tp16) across hosts 0-1, aggregated-0 (tp8) on host 2."""
    return h100_4x8, place(h100_4x8, [("prefill", 2, 4), ("decode", 1, 16), ("aggregated", 1, 8)])


@pytest.fixture
def agg8(h100_4x8):
    """Eight tp4 aggregated replicas filling hosts 0-3 (two per host)."""
    return h100_4x8, place(h100_4x8, [("aggregated", 8, 4)])


@pytest.fixture
def run_plan():
    """Play a plan on a fresh env with a FakeFleet; returns the fleet."""
    def run(fabric, placements, planned, until=None, **kw) -> FakeFleet:
        env = simpy.Environment()
        fleet = FakeFleet(env, fabric, placements, **kw)
        start_faults(env, planned, fleet)
        env.run(until=until)
        return fleet
    return run
