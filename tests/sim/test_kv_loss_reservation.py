"""Regression: a KV-capacity loss on a decode replica while it runs a decode stretch and grants KV
reservations for incoming transfers used to over-allocate ("KV allocation of 3 blocks beyond the
evictable cache"): the stretch was planned with the old pool. The stretch is now re-planned."""
from __future__ import annotations

from test_faults_effects import DISAGG, RESILIENT_ROUTER, scenario, simulate


def test_kv_capacity_loss_on_decode_with_reservations_keeps_the_books(tmp_path):
    doc = scenario(duration="3m", faults=[{"type": "kv_capacity_loss", "at": "0s",
                                           "target": {"role": "decode", "mode": "one"}, "fraction": 0.9}],
                   recovery={"requests": "fail"}, controller={"policy": "none"}, engine={"stepper": "fast"})
    doc["deployment"] = DISAGG
    doc["workload"]["synthetic"]["rate"] = "5/s"
    doc["router"] = RESILIENT_ROUTER | {"timeout": "15s", "watchdog": {"stall_after": "20s"}}
    counts = simulate(doc, tmp_path).log.counts()
    assert counts["completed"] + counts["failed"] + counts["rejected"] + counts["in_flight"] == counts["arrived"]
    assert counts["completed"] > 0
