"""How a team tests its serving fleet's resilience with fleetchaos, in pytest.

    pytest examples/test_fleet_resilience.py              # the fixture, the helpers, a marker, a property
    pytest examples/test_fleet_resilience.py --runxfail   # see the weak policy's shrunk counterexample

fleet-small.yaml is the fleet: three Llama-3.1-8B TP4 replicas and a spare on two H100 hosts, with
health checks, retries, request migration and failover to the spare. WEAK takes all of that away.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from chaos import testing
from chaos.strategies import chaos_settings, gpu_crashes, note_schedule, with_faults
from chaos.testing import (assert_better, assert_no_cliff, assert_no_requests_lost, assert_recovers_within,
                           assert_slo)

HERE = Path(__file__).parent
FLEET = HERE / "fleet-small.yaml"

# No health checks and no retries: the router learns nothing of a dead replica, and least_outstanding
# keeps choosing it (it refuses at once, so it always looks idle). Requests on it fail; the controller
# restarts it only after the repair.
WEAK = {"router": {"policy": "least_outstanding"}, "recovery.requests": "fail", "controller.policy": "restart"}


def test_a_gpu_crash_keeps_the_slo_loses_nothing_and_recovers_within_a_minute(fleetchaos):
    run = fleetchaos.run("fleet-small.yaml")
    assert run.verdict == "held", "\n".join(run.hypothesis.describe())
    assert_slo(run, ttft_p99="3s", tpot_p99="100ms")
    assert_no_requests_lost(run)
    assert_recovers_within(run, "60s")
    assert_no_cliff(run, drop=0.5, within="10s")


def test_health_checks_retries_and_failover_beat_the_weak_setup(fleetchaos):
    strong = fleetchaos.run("fleet-small.yaml")
    weak = fleetchaos.run("fleet-small.yaml", set=WEAK)
    assert_better(strong, weak, metric="requests_lost")
    assert_better(strong, weak, metric="resilience_score")
    assert_better(strong, weak, metric="throughput_tok_s", margin=0.1)


@pytest.mark.scenario("fleet-small.yaml", matrix={"controller.policy": ["restart", ["failover_spare", "restart"]]})
def test_either_controller_policy_loses_no_request(experiment):
    assert_no_requests_lost(experiment)
    assert_slo(experiment, ttft_p99="3s")


SCENARIOS = {"strong": testing.load(FLEET), "weak": testing.load(FLEET, set=WEAK)}


@pytest.mark.parametrize("policy", [
    "strong",
    pytest.param("weak", marks=pytest.mark.xfail(strict=True, raises=AssertionError,
                                                 reason="without health checks a dead replica takes all traffic")),
])
@chaos_settings(max_examples=20)
@given(faults=gpu_crashes(FLEET, max_faults=2, within=("0s", "2m"), durations=("10s", "1m")))
def test_any_two_gpu_crashes_in_the_first_two_minutes_lose_no_request(policy, faults):
    run = testing.run(with_faults(SCENARIOS[policy], faults), baseline=False)
    note_schedule(run.result.scenario, faults, relative_to=HERE.parent / "faults")
    assert_no_requests_lost(run)
    assert_slo(run, ttft_p99="3s")
