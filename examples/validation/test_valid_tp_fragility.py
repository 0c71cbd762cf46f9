"""Effect 3: a wider TP group is faster per request but a GPU crash takes more of the fleet with it; a
TP group that spans hosts pays on the scale-out fabric. Scenario tp-fragility.yaml (16 H100s, 70B)."""
from __future__ import annotations

import pytest

from chaos import testing
from chaos.metrics.summary import summarize
from validation_kit import HERE, run

FAULT = (70.0, 180.0)          # the crash is at 60 s for 2 min; from 70 s the router has ejected the replica


@pytest.fixture(scope="module")
def shapes():
    """tp -> (throughput kept under the crash, SLO attainment under it, fault-free TPOT p50)."""
    out = {}
    for tp, replicas in ((4, 4), (8, 2)):
        exp = testing.run(HERE / "tp-fragility.yaml", set={"deployment.tp": tp, "deployment.replicas": replicas},
                          baseline=True)
        slo = exp.result.scenario.slo.to_slo()
        hit = summarize(exp.result.log, slo=slo, window=FAULT)
        twin = summarize(exp.baseline.log, slo=slo, window=FAULT)
        out[tp] = (hit.throughput_tok_s / twin.throughput_tok_s, hit.slo_attainment, twin.tpot_s.p50)
    return out


def test_wider_tp_is_faster_per_request(shapes):
    assert shapes[8][2] < 0.95 * shapes[4][2], shapes          # TPOT p50 23 ms vs 27 ms at 9 req/s


def test_one_crash_costs_the_wider_shape_its_share_of_the_fleet(shapes):
    kept4, att4, _ = shapes[4]
    kept8, att8, _ = shapes[8]
    assert 0.75 < kept4 < 0.95, shapes                       # a quarter of the GPUs gone, ~13% of the tokens
    assert 0.4 < kept8 < 0.65, shapes                        # half of them gone: ~half of the tokens
    assert att4 > 0.98 and att8 < 0.5, shapes                # TP4 keeps the SLO, TP8 falls off it


def test_a_tp_group_across_hosts_pays_on_the_scale_out_fabric():
    light = {"workload.synthetic.rate": "0.5/s", "workload.synthetic.input": {"dist": "fixed", "value": 1000},
             "workload.synthetic.output": {"dist": "fixed", "value": 200}, "faults": [], "deployment.replicas": 1}
    inside = run("tp-fragility.yaml", **light, **{"deployment.tp": 8}).summary       # one host, NVLink
    across = run("tp-fragility.yaml", **light, **{"deployment.tp": 16}).summary      # two hosts, 400 Gb/s NICs
    assert across.tpot_s.p50 > 1.3 * inside.tpot_s.p50, (inside.tpot_s.p50, across.tpot_s.p50)   # 10 -> 16 ms
    assert across.ttft_s.p50 > 2 * inside.ttft_s.p50, (inside.ttft_s.p50, across.ttft_s.p50)     # 45 -> 155 ms


def test_the_sweep_file_resolves():
    from chaos.sweep import Sweep
    runs = list(Sweep.load(HERE / "tp-fragility.sweep.yaml").runs())
    assert len(runs) == 6 and all(r.error is None for r in runs)
