"""The router's kept view (routing/view.py) inside whole runs: at every dispatch, under random faults,
the usable replicas and the least-loaded one are exactly what a full scan of the pool gives.

The unit property (tests/routing/test_routing_view.py) drives fake replicas that report every load
change by contract; this one checks the contract itself on the real engine and request path, where
a load change can come from anywhere (queues, finishes, crashes, connects parked in the network)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from chaos.routing.base import fewest_outstanding
from chaos.routing.resilience import ResilientRouter

from test_faults_effects import DISAGG, RESILIENT_ROUTER, fault_schedules, scenario, simulate


class ScanCheck:
    """Wraps ResilientRouter._view: compares each view it returns with a fresh scan of the pool."""

    def __init__(self, monkeypatch) -> None:
        self.views = self.indexed = self.parked = 0
        original = ResilientRouter._view

        def checked(router, pool, replicas):
            got = original(router, pool, replicas)
            want = [r for r in replicas if router.available(r.replica_id)]
            assert list(got) == want, f"{pool}: kept view {[r.replica_id for r in got]} != scan"
            self.views += 1
            index = getattr(got, "load_index", None)
            if index is not None and want:
                self.indexed += 1
                self.parked += any(r.in_network for r in want)
                best = fewest_outstanding(want, range(len(want)))
                assert index.argmin() == best, (
                    f"{pool}: load index picks {want[index.argmin()].replica_id} "
                    f"({want[index.argmin()].outstanding} outstanding), a scan {want[best].replica_id} "
                    f"({want[best].outstanding})")
            return got

        monkeypatch.setattr(ResilientRouter, "_view", checked)


SILENT_HOST = [{"type": "node_failure", "at": "40s", "duration": "60s", "target": {"host": "rack0/host0"}}]


def test_connects_parked_on_a_silent_host_count_in_the_load_index(tmp_path, monkeypatch):
    """A connect to a dead host sits in the network until its timeout and counts as outstanding (Envoy's
    rq_active): the index must see it arrive and leave, as the scan does (it did not: faults/
    link-failure, node-failure and random-failures deviated with the index)."""
    check = ScanCheck(monkeypatch)
    doc = scenario(duration="2m", faults=SILENT_HOST, router=RESILIENT_ROUTER, recovery={"requests": "migrate"})
    simulate(doc, tmp_path)
    assert check.indexed > 500 and check.parked > 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), disaggregated=st.booleans(),
       policy=st.sampled_from(["least_outstanding", "power_of_two"]),
       controller=st.sampled_from(["none", ["failover_spare", "restart"]]))
def test_under_any_fault_schedule_the_kept_view_is_a_full_scan(tmp_path, monkeypatch, data, disaggregated,
                                                               policy, controller):
    roles = ("prefill", "decode") if disaggregated else ("aggregated",)
    faults = data.draw(fault_schedules(roles), label="faults")
    doc = scenario(duration="3m", faults=faults, recovery={"requests": "migrate"},
                   router=RESILIENT_ROUTER | {"policy": policy, "timeout": "15s"},
                   controller={"policy": controller, "restart_time": "20s", "model_load_time": "20s"})
    if disaggregated:
        doc["deployment"] = DISAGG
    doc["workload"]["synthetic"]["rate"] = "5/s"
    with monkeypatch.context() as m:
        check = ScanCheck(m)
        simulate(doc, tmp_path)
    assert check.views > 0
