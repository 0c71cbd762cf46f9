"""What the client sees (issue #16): unavailability is a failure, not shedding; a dead host is silent
until a timeout; streams are judged on client time; a started stream cannot be retried."""
from __future__ import annotations

import numpy as np

from chaos.metrics import Status

from test_faults_effects import RESILIENT_ROUTER, scenario, simulate

LEAF_CUT = [{"type": "switch_failure", "at": "60s", "duration": "90s", "target": {"switch": "rack0/leaf"}}]


def _reasons(res, status: Status) -> list[str]:
    return [str(r) for r in res.log.reason[res.log.status == int(status)]]


def test_no_healthy_replica_is_a_failure_not_a_rejection(tmp_path):
    # the whole fleet sits behind one leaf: cutting it leaves the router no healthy upstream (a 503)
    doc = scenario(faults=LEAF_CUT, router={**RESILIENT_ROUTER, "retries": 2},
                   **{"workload.synthetic.rate": "4/s"})
    res = simulate(doc, tmp_path)
    unavailable = [r for r in _reasons(res, Status.FAILED) if "no healthy replica" in r]
    assert len(unavailable) >= 50                       # ~4/s for most of 90 s
    assert not any("no healthy replica" in r for r in _reasons(res, Status.REJECTED))
    assert res.stats["router"]["no_replica"] >= len(unavailable)
