"""Effect 7: cold start makes the autoscaler late. Against a 5x traffic spike, new replicas that take
minutes to load arrive after the spike and SLO attainment falls off a cliff; a short load or a warm pool
holds it. Scenario cold-start.yaml (2 serving + 6 spare Llama-3.1-8B TP1 replicas, autoscale)."""
from __future__ import annotations

import pytest

from chaos.metrics.summary import summarize
from validation_kit import HERE, run

SPIKE = (60.0, 240.0)          # the traffic_spike fault's window in cold-start.yaml


def spike_attainment(**overrides) -> float:
    res = run("cold-start.yaml", **overrides)
    return summarize(res.log, slo=res.scenario.slo.to_slo(), window=SPIKE).slo_attainment


@pytest.fixture(scope="module")
def attainment():
    out = {load: spike_attainment(**{"controller.model_load_time": load}) for load in ("10s", "2m", "5m")}
    out["warm"] = spike_attainment(**{"controller.model_load_time": "5m", "deployment.replicas": 6,
                                      "deployment.spares": 2, "controller.autoscale.aggregated.min": 6})
    return out


def test_attainment_falls_off_a_cliff_as_the_model_load_time_grows(attainment):
    assert attainment["10s"] > 0.75, attainment                     # the spares serve within ~25 s
    assert attainment["2m"] < 0.6 * attainment["10s"], attainment   # half the spike unserved
    assert attainment["5m"] < 0.1, attainment                       # the new replicas arrive after it


def test_a_warm_pool_holds_the_slo_through_the_same_spike(attainment):
    assert attainment["warm"] > 0.98, attainment


def test_the_sweep_file_resolves():
    from chaos.sweep import Sweep
    runs = list(Sweep.load(HERE / "cold-start.sweep.yaml").runs())
    assert len(runs) == 5 and all(r.error is None for r in runs)
