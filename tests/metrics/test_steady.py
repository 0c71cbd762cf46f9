"""Phases from fault windows, windows inside a phase, probe values by hand, every tolerance kind."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chaos.errors import InputError
from chaos.metrics import (PROBES, FaultWindow, FleetSeries, HypothesisConfig, ProbeConfig, RequestLog, RunData, Slo,
                           Status, evaluate_hypothesis, phases, probe_values, windows)
from tests.metrics.conftest import five

NAN = math.nan


def spans(phase):
    return [(s.t0, s.t1) for s in phase.segments]


# phases -------------------------------------------------------------------------------------------
def test_no_faults_is_all_before():
    ph = phases([], 600.0)
    assert spans(ph["before"]) == [(0.0, 600.0)]
    assert not ph["during"].exists and ph["during"].reason == "no faults"
    assert not ph["after"].exists


def test_one_fault():
    ph = phases([FaultWindow("f0", 100.0, 200.0)], 600.0, settle_s=60.0)
    assert spans(ph["before"]) == [(0.0, 100.0)]
    assert spans(ph["during"]) == [(100.0, 200.0)] and ph["during"].segments[0].faults == ("f0",)
    assert spans(ph["after"]) == [(260.0, 600.0)]


def test_overlapping_faults_merge_and_name_both():
    faults = [FaultWindow("a", 100.0, 200.0), FaultWindow("b", 150.0, 300.0), FaultWindow("c", 400.0, 450.0)]
    ph = phases(faults, 600.0, settle_s=60.0)
    assert spans(ph["during"]) == [(100.0, 300.0), (400.0, 450.0)]
    assert [s.faults for s in ph["during"].segments] == [("a", "b"), ("c",)]
    assert spans(ph["after"]) == [(510.0, 600.0)]


def test_permanent_fault_runs_to_the_horizon_and_skips_after():
    ph = phases([FaultWindow("p", 100.0, None)], 600.0)
    assert spans(ph["during"]) == [(100.0, 600.0)]
    assert not ph["after"].exists and "permanent" in ph["after"].reason


def test_instant_fault_spans_the_settle_time():
    ph = phases([FaultWindow("crash", 100.0, 100.0)], 600.0, settle_s=30.0)
    assert spans(ph["during"]) == [(100.0, 130.0)] and spans(ph["after"]) == [(130.0, 600.0)]


def test_fault_ends_near_the_horizon_and_warmup():
    ph = phases([FaultWindow("f", 100.0, 580.0), FaultWindow("late", 700.0, 800.0)], 600.0,
                settle_s=60.0, warmup_s=20.0)
    assert spans(ph["before"]) == [(20.0, 100.0)] and spans(ph["during"]) == [(100.0, 580.0)]
    assert not ph["after"].exists and "horizon" in ph["after"].reason


def test_fault_window_from_journal_record():
    f = FaultWindow.from_dict({"cause": "faults[0] gpu_crash", "start_s": 180.0, "end_s": 360.0,
                               "permanent": False, "replicas_lost": ["aggregated-5"], "replicas_degraded": []})
    assert f == FaultWindow("faults[0] gpu_crash", 180.0, 360.0, ("aggregated-5",))
    assert FaultWindow.from_dict({"type": "node_failure", "index": 1, "start_s": 5, "end_s": None,
                                  "permanent": True}).permanent
    with pytest.raises(ValueError, match="end_s must be >= start_s"):
        FaultWindow("x", 10.0, 5.0)


# windows ------------------------------------------------------------------------------------------
def test_five_minutes_in_30s_windows_gives_ten():
    w = windows(phases([], 300.0)["before"], 30.0)
    assert len(w.t0) == 10 and w.t0[3] == 90.0 and w.t1[-1] == 300.0 and not w.notes


def test_short_trailing_window_is_dropped_and_said():
    w = windows(phases([], 100.0)["before"], 30.0)
    assert w.t1.tolist() == [30.0, 60.0, 90.0]
    assert w.notes == ["before: dropped the partial window [90s, 100s) (10s < half of 30s)"]
    w = windows(phases([], 110.0)["before"], 30.0)
    assert w.t1.tolist() == [30.0, 60.0, 90.0, 110.0] and not w.notes


def test_windows_name_the_active_faults():
    f = [FaultWindow("a", 0.0, 50.0), FaultWindow("b", 40.0, 100.0)]
    ph = phases(f, 200.0)
    w = windows(ph["during"], 30.0, [(x.name, *x.span(200.0, 60.0)) for x in f])
    assert w.faults == [("a",), ("a", "b"), ("b",)] and w.t1.tolist() == [30.0, 60.0, 90.0]


# probe values by hand on the five-request log ------------------------------------------------------
W0, W1 = np.array([0.0, 2.0, 4.0]), np.array([2.0, 4.0, 5.0])


def vals(name, horizon=5.0, **kw):
    return probe_values(name, RunData(five(), horizon), W0, W1, **kw)


def test_probe_values_by_hand():
    # first tokens: [0,2) ids 0 (1.0 s) and 1 (0.5 s); [2,4) id 3 (0.5 s); [4,5] id 2 (2.0 s)
    assert vals("ttft_p50") == pytest.approx([0.75, 0.5, 2.0])
    # completions: id 1 at 1.7 s (3 tokens), id 0 at 3.0 s (5), id 2 at 5.0 s = horizon (11)
    assert vals("throughput_tok_s") == pytest.approx([3 / 2, 5 / 2, 11 / 1])
    assert vals("throughput_rps") == pytest.approx([0.5, 0.5, 1.0])
    assert vals("e2e_p99") == pytest.approx([0.7, 3.0, 3.0])
    assert vals("tpot_p50") == pytest.approx([0.1, 0.5, 0.1])
    # id 3 failed (left at its arrival, 3 s), id 4 rejected (4 s)
    assert vals("requests_failed").tolist() == [0, 1, 0]
    assert vals("requests_rejected").tolist() == [0, 0, 1]
    assert vals("requests_lost").tolist() == [0, 1, 1]
    slo = Slo(ttft_s=0.9)       # only id 1 (TTFT 0.5 s) meets it
    assert vals("slo_attainment", slo=slo) == pytest.approx([1.0, 0.0, 0.0])
    assert vals("goodput_rps", slo=slo) == pytest.approx([0.5, 0.0, 0.0])


def test_the_horizon_edge_only_closes_the_last_window():
    # with the horizon at 6 s, the completion at 5.0 s is outside [4, 5)
    assert vals("throughput_tok_s", horizon=6.0) == pytest.approx([1.5, 2.5, 0.0])


def test_empty_windows_nan_for_latency_zero_for_rates():
    run = RunData(five(), 20.0)
    t0, t1 = np.array([10.0]), np.array([20.0])
    assert math.isnan(probe_values("ttft_p99", run, t0, t1)[0])
    assert math.isnan(probe_values("slo_attainment", run, t0, t1, slo=Slo(ttft_s=1))[0])
    assert probe_values("throughput_tok_s", run, t0, t1)[0] == 0.0
    assert probe_values("requests_failed", run, t0, t1)[0] == 0.0


def test_probe_values_refuse_bad_input():
    run = RunData(five(), 5.0)
    with pytest.raises(ValueError, match="did you mean ttft_p99"):
        probe_values("ttft_p98", run, W0, W1)
    with pytest.raises(ValueError, match="needs an slo"):
        probe_values("goodput_rps", run, W0, W1)
    with pytest.raises(ValueError, match="sorted, disjoint"):
        probe_values("ttft_p99", run, np.array([0.0, 1.0]), np.array([2.0, 3.0]))


def test_fleet_probes():
    fs = FleetSeries()
    for t, q, up in [(0, 1, (2, 2)), (10, 7, (2, 1)), (20, 3, (1, 1)), (30, 0, (2, 2))]:
        fs.append(t, queue_depth=q, replicas_up={"prefill": up[0], "decode": up[1]})
    run = RunData(five(), 40.0, fleet_series=fs)
    t0, t1 = np.array([0.0, 20.0]), np.array([20.0, 40.0])
    assert probe_values("queue_depth_max", run, t0, t1).tolist() == [7.0, 3.0]
    assert probe_values("replicas_up_min", run, t0, t1).tolist() == [3.0, 2.0]
    assert np.isnan(probe_values("queue_depth_max", RunData(five(), 40.0), t0, t1)).all()


def test_itl_probe():
    from chaos.metrics import ItlSamples
    itl = ItlSamples(gaps_s=[0.01, 0.02, 0.5, 0.03], weights=[10, 10, 1, 5], t_s=[1.0, 1.0, 1.5, 3.0])
    run = RunData(five(), 5.0, itl=itl)
    v = probe_values("itl_p99", run, W0, W1)
    # window 0: 10 x 0.01, 10 x 0.02, 1 x 0.5 -> rank 0.99 * 20 = 19.8 between 0.02 and 0.5
    assert v[0] == pytest.approx(0.02 + 0.8 * 0.48) and v[1] == pytest.approx(0.03) and math.isnan(v[2])


# evaluation ---------------------------------------------------------------------------------------
def steady_log(n: int = 300, *, ttft: float = 0.5, slow_from: float = math.inf, slow_ttft: float = 3.0) -> RequestLog:
    """One request per second from t = 0.5 s, TTFT 0.5 s (slow_ttft after slow_from), 10 tokens,
    finishing 1 s after its first token."""
    arrival = np.arange(n) + 0.5
    t = np.where(arrival >= slow_from, slow_ttft, ttft)
    return RequestLog(id=np.arange(n), arrival_s=arrival, first_token_s=arrival + t, finish_s=arrival + t + 1.0,
                      input_tokens=np.full(n, 100), output_tokens=np.full(n, 10), generated_tokens=np.full(n, 10),
                      status=np.full(n, int(Status.COMPLETED)))


def test_sound_hypothesis_holds():
    run = RunData(steady_log(), 300.0)
    res = evaluate_hypothesis([ProbeConfig(probe="ttft_p99", window="30s", max="1s")], run)
    assert res.verdict == "held" and len(res.checks) == 10 and res.held
    assert res.per_phase["before"]["checks"] == 10
    assert res.per_phase["during"]["status"] == "skipped" and res.per_phase["after"]["status"] == "skipped"


def test_hypothesis_that_cannot_hold_names_the_window():
    run = RunData(steady_log(), 300.0)
    res = evaluate_hypothesis([ProbeConfig(probe="ttft_p99", window="30s", max="1ms")], run,
                              faults=[FaultWindow("faults[0] gpu_crash", 120.0, 180.0)], settings=HypothesisConfig(settle="30s"))
    assert res.verdict == "deviated"
    assert len(res.failing) == 3  # the first three per probe
    assert res.describe()[0] == ("steady_state[0] ttft_p99 = 500.0ms in before window [0s, 30.00s): "
                                 "tolerance <= 1.0ms")
    during = [c for c in res.checks if c.phase == "during"]
    assert [(c.t0, c.t1) for c in during] == [(120.0, 150.0), (150.0, 180.0)]
    assert during[0].faults_active == ["faults[0] gpu_crash"] and "while faults[0] gpu_crash" in during[0].describe()
    assert res.per_phase["after"]["spans_s"] == [[210.0, 300.0]] and res.per_phase["after"]["failed"] == 3
    assert res.per_probe() == [{"index": 0, "probe": "ttft_p99", "tolerance": "<= 1.0ms", "checks": 9, "failed": 9, "no_data": 0}]
    json.dumps(res.to_dict(), allow_nan=False)


def test_phases_subset_and_whole_phase_window():
    run = RunData(steady_log(slow_from=100.0), 300.0)
    fault = [FaultWindow("f", 100.0, 150.0)]
    probes = [ProbeConfig(probe="ttft_p50", max="1s", phases=["before"]),
              ProbeConfig(probe="ttft_p50", max="1s", phases=["during", "after"])]
    res = evaluate_hypothesis(probes, run, faults=fault)
    by = {(c.index, c.phase): c for c in res.checks}
    assert set(by) == {(0, "before"), (1, "during"), (1, "after")}
    assert by[0, "before"].ok and by[0, "before"].value == 0.5 and (by[0, "before"].t0, by[0, "before"].t1) == (0, 100)
    assert not by[1, "during"].ok and by[1, "during"].value == 3.0 and not by[1, "after"].ok


@pytest.mark.parametrize("probe, value, ok", [
    pytest.param({"max": "0.5s"}, 0.5, True, id="max-inclusive"),
    pytest.param({"max": "0.4s"}, 0.5, False, id="max-exceeded"),
    pytest.param({"min": "0.6s"}, 0.5, False, id="min-missed"),
    pytest.param({"min": "0.5s", "max": "1s"}, 0.5, True, id="min-max-pair"),
    pytest.param({"range": ["100ms", "400ms"]}, 0.5, False, id="range-above"),
    pytest.param({"range": ["100ms", "600ms"]}, 0.5, True, id="range-inside"),
])
def test_absolute_tolerances(probe, value, ok):
    res = evaluate_hypothesis([ProbeConfig(probe="ttft_p99", **probe)], RunData(steady_log(), 300.0))
    (check,) = res.checks
    assert check.value == pytest.approx(value) and check.ok is ok and check.baseline_value is None


@pytest.mark.parametrize("probe, ok", [
    pytest.param({"max_ratio_to_baseline": 2.0}, [True, False], id="max-ratio"),
    pytest.param({"max_ratio_to_baseline": 6.0}, [True, True], id="max-ratio-loose"),
    pytest.param({"min_ratio_to_baseline": 1.0}, [True, True], id="min-ratio"),
    pytest.param({"min_ratio_to_baseline": 0.5, "max_ratio_to_baseline": 1.5}, [True, False], id="ratio-band"),
])
def test_baseline_ratios_in_the_same_window(probe, ok):
    run = RunData(steady_log(slow_from=150.0), 300.0)        # TTFT 0.5 s, then 3 s from 150 s
    base = RunData(steady_log(), 300.0)
    res = evaluate_hypothesis([ProbeConfig(probe="ttft_p99", window="150s", **probe)], run, baseline=base)
    assert [c.ok for c in res.checks] == ok
    assert [c.baseline_value for c in res.checks] == [0.5, 0.5]
    assert res.checks[1].value == pytest.approx(3.0)
    assert "x baseline 500.0ms)" in res.checks[1].tolerance_text
    assert res.checks[1].rule.endswith("x baseline")


def test_a_ratio_tolerance_shows_the_limit_itself():
    """Issue #17: ">= 0.7 x baseline (982.8 tok/s)" read like a failure that passed; the limit comes first."""
    from chaos.metrics.steady import tolerance_text
    cfg = ProbeConfig(probe="throughput_tok_s", window="1m", min_ratio_to_baseline=0.7)
    assert tolerance_text(cfg, 982.8) == ">= 688 tok/s (0.7 x baseline 982.8 tok/s)"
    assert tolerance_text(cfg) == ">= 0.7 x baseline"
    band = ProbeConfig(probe="ttft_p99", window="1m", min_ratio_to_baseline=0.5, max_ratio_to_baseline=2.0)
    assert tolerance_text(band, 1.0) == "in [500.0ms, 2.00s] ([0.5, 2] x baseline 1.00s)"


def test_throughput_ratio_during_an_outage():
    log = steady_log()
    gone = (log.arrival_s >= 100) & (log.arrival_s < 130)
    log.status[gone] = Status.FAILED
    log.finish_s[gone] = log.arrival_s[gone]
    run, base = RunData(log, 300.0), RunData(steady_log(), 300.0)
    res = evaluate_hypothesis(
        [ProbeConfig(probe="throughput_tok_s", window="10s", min_ratio_to_baseline=0.7, phases=["during"]),
         ProbeConfig(probe="requests_failed", max=0)],
        run, baseline=base, faults=[FaultWindow("outage", 100.0, 140.0)])
    thr = [c for c in res.checks if c.index == 0]
    # 10 tokens per completion; completions lag arrivals by 1.5 s: [100,110) still sees those of
    # arrivals 98.5 and 99.5, [130,140) those of 130.5..137.5; the baseline makes 10 tok/s
    assert [c.value for c in thr] == pytest.approx([2.0, 0.0, 0.0, 8.0])
    assert [c.ok for c in thr] == [False, False, False, True]
    failed = {c.phase: c.value for c in res.checks if c.index == 1}
    assert failed == {"before": 0.0, "during": 30.0, "after": 0.0}
    assert res.verdict == "deviated"


def test_no_data_is_not_a_failure():
    log = steady_log(90)                         # last first token at 90 s, last finish at 91 s
    res = evaluate_hypothesis([ProbeConfig(probe="ttft_p99", window="50s", max="1s")], RunData(log, 200.0))
    assert [c.no_data for c in res.checks] == [False, False, True, True]
    assert all(c.ok for c in res.checks) and res.verdict == "held"
    assert res.per_phase["before"]["no_data"] == 2
    d = res.to_dict()
    assert d["checks"][3]["value"] is None and d["checks"][3]["no_data"] is True


def test_missing_baseline_or_slo_is_an_input_error():
    run = RunData(steady_log(), 300.0)
    with pytest.raises(InputError, match="needs the baseline twin") as e:
        evaluate_hypothesis([ProbeConfig(probe="ttft_p99", max=1),
                             ProbeConfig(probe="ttft_p99", max_ratio_to_baseline=2)], run)
    assert e.value.field == "steady_state[1]"
    with pytest.raises(InputError, match="needs per-request targets"):
        evaluate_hypothesis([ProbeConfig(probe="goodput_rps", min=1)], run)


def test_dropped_window_is_noted_per_phase():
    res = evaluate_hypothesis([ProbeConfig(probe="ttft_p99", window="30s", max="1s")], RunData(steady_log(), 100.0))
    assert len(res.checks) == 3
    assert res.per_phase["before"]["notes"] == [
        "steady_state[0] ttft_p99: before: dropped the partial window [90s, 100s) (10s < half of 30s)"]


def test_every_registered_probe_computes():
    from chaos.metrics import ItlSamples
    from chaos.metrics.probes import _COMPUTE
    assert set(_COMPUTE) == set(PROBES)
    fs = FleetSeries()
    fs.append(0.0, queue_depth=1, replicas_up={"aggregated": 2})
    run = RunData(five(), 5.0, fleet_series=fs, itl=ItlSamples([0.01], [1.0], [1.0]))
    for name in PROBES:
        v = probe_values(name, run, W0, W1, slo=Slo(ttft_s=1.0))
        assert v.shape == (3,) and v.dtype == np.float64, name
