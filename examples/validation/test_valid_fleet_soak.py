"""Effect 8: fleet-scale failure rates. The Llama 3 report's interruption process on a 1,024-GPU fleet:
the failure counts and causes match the published rate and mix within sampling error, and a 24-hour
soak (10x accelerated) shows the replica-hours each controller policy loses, with and without spares.
Scenario fleet-soak.yaml (120 Llama-3.1-70B TP8 replicas + 8 spares)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from chaos import testing
from chaos.faults import plan
from chaos.faults.random_failures import LLAMA3_MIX, LLAMA3_RATE_PER_GPU_S
from chaos.sim.build import check_scenario
from validation_kit import HERE, run

GPUS, REPLICAS = 1024, 120
DAYS = 1000                    # the failure process planned over 1,000 fleet-days at the published rate


def test_failure_counts_and_causes_match_the_llama3_rate_within_sampling_error():
    sc = testing.load(HERE / "fleet-soak.yaml", set={"duration": f"{DAYS * 24}h",
                                                      "faults": [{"type": "random_failures", "acceleration": 1}]})
    fleet = check_scenario(sc)
    planned = plan(sc.faults, fabric=fleet.fabric, placements=fleet.placements, seed=sc.seed, horizon_s=sc.duration)
    expected = LLAMA3_RATE_PER_GPU_S * GPUS * DAYS * 86_400          # 485: 0.48 a day on 1,024 GPUs
    assert abs(len(planned) - expected) < 3 * math.sqrt(expected), (len(planned), expected)
    causes = [pf.detail.split(":")[0] for pf in planned]
    for cause, share in LLAMA3_MIX.items():                          # binomial, 4 sigma (5 causes tested)
        n = causes.count(cause)
        sd = math.sqrt(len(planned) * share * (1 - share))
        assert abs(n - share * len(planned)) < 4 * sd, (cause, n, share * len(planned))


def replica_hours_lost(result) -> float:
    """Replica-hours below the deployment's 120 serving replicas, from the fleet series."""
    fs = result.fleet_series
    up = fs["replicas_up.aggregated"]
    t = np.asarray(fs.t_s)
    dt = np.diff(np.append(t, result.horizon_s))
    return float(((REPLICAS - up) * dt).sum()) / 3600


@pytest.fixture(scope="module")
def soak():
    """policy -> (replica-hours lost in 24 h, planned faults)."""
    out = {}
    for name, policy, spares in (("none", "none", 8), ("restart", "restart", 8),
                                 ("failover", ["failover_spare", "restart"], 8),
                                 ("failover, no spares", ["failover_spare", "restart"], 0)):
        res = run("fleet-soak.yaml", **{"controller.policy": policy, "deployment.spares": spares})
        out[name] = (replica_hours_lost(res), list(res.supervision.planned))
    return out


@pytest.mark.slow
def test_restart_loses_what_the_repairs_take(soak):
    lost, planned = soak["restart"]
    # each hardware fault takes exactly one TP8 replica (a GPU, its NIC cable, or its whole host) for its
    # repair time (within the 24 h; one on a spare takes nothing serving); a software crash costs
    # detection + the 2 min restart
    hardware = sum(min(pf.end_s, 86_400.0) - pf.start_s for pf in planned
                   if pf.target_kind != "replica" and any(not r.startswith("spare") for r in pf.replicas_lost)) / 3600
    software = sum(1 for pf in planned if pf.target_kind == "replica") * (2 / 60)
    assert planned, "seed 1 plans failures at 10x"
    assert hardware + software <= lost <= 1.2 * (hardware + software) + 0.5, (lost, hardware, software)


@pytest.mark.slow
def test_spares_turn_repair_hours_into_load_minutes(soak):
    with_spares, planned = soak["failover"]
    restart = soak["restart"][0]
    assert with_spares < 0.1 * restart, (with_spares, restart)    # 0.3 vs 10.9 replica-hours
    assert with_spares < 0.15 * len(planned), with_spares          # ~ detection + a 5 min load per failure
    assert soak["failover, no spares"][0] == pytest.approx(restart, rel=0.05)
    assert soak["none"][0] >= restart                              # nothing restarts a crashed engine
    availability = 1 - with_spares / (REPLICAS * 24)
    assert availability > 0.999, availability
