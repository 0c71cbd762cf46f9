"""Resilience against the baseline twin on constructed logs: generation-time throughput, time to
detect and recover, lost tokens, cliffs, the score and its breakdown."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chaos.metrics import FaultWindow, RequestLog, ResilienceConfig, RunData, Slo, Status
from chaos.metrics.resilience import (SCORE_WEIGHTS, Detection, analyze_resilience, grid, throughput_cliffs,
                                      throughput_curve, tokens_generated, ttft_cliffs)

NAN = math.nan


def flow(horizon: float = 300.0, *, rate: float = 1.0, ttft: float = 0.5, decode: float = 1.0, tokens: int = 10,
         fail=None) -> RunData:
    """Requests every 1/rate s from 0.5/rate, TTFT `ttft`, `tokens` tokens over `decode` s after the
    first; `fail(ids, arrivals) -> mask` marks requests that fail on arrival (no token, left at arrival)."""
    n = int(horizon * rate)
    ids = np.arange(n)
    arrival = (ids + 0.5) / rate
    first = arrival + ttft
    finish = first + decode
    status = np.full(n, int(Status.COMPLETED))
    gen = np.full(n, tokens)
    if fail is not None:
        bad = np.asarray(fail(ids, arrival), dtype=bool)
        status[bad] = Status.FAILED
        first = np.where(bad, NAN, first)
        finish = np.where(bad, arrival, finish)
        gen = np.where(bad, 0, gen)
    log = RequestLog(id=ids, arrival_s=arrival, first_token_s=first, finish_s=finish, input_tokens=np.full(n, 100),
                     output_tokens=np.full(n, tokens), generated_tokens=gen, status=status)
    return RunData(log, horizon)


# generation-time throughput ---------------------------------------------------------------------
def test_tokens_generated_by_hand():
    log = RequestLog(id=[0, 1, 2, 3], arrival_s=[0.0, 0.0, 0.0, 0.0], first_token_s=[1.0, 2.0, 2.0, 1.0],
                     finish_s=[3.0, 2.0, 2.0, NAN], input_tokens=[1, 1, 1, 1], output_tokens=[11, 1, 5, 9],
                     generated_tokens=[11, 1, 5, 3],
                     status=[Status.COMPLETED, Status.COMPLETED, Status.COMPLETED, Status.FAILED])
    # id 0: 1 token at 1 s, 10 over (1, 3]; id 1: 1 token at 2 s; id 2: 1 + 4 at 2 s; id 3 failed: none
    assert tokens_generated(log, np.array([0.5, 1.0, 2.0, 2.5, 3.0, 9.0])).tolist() == [0, 1, 12, 14.5, 17, 17]
    t0, t1 = np.array([0.0, 2.0]), np.array([2.0, 4.0])
    assert throughput_curve(log, t0, t1).tolist() == [6.0 / 2, 11.0 / 2]   # tokens at exactly 2 s go right
    assert tokens_generated(log, np.array([2.0]), before=True).tolist() == [6.0]
    assert grid(25.0, 10.0)[1].tolist() == [10.0, 20.0, 25.0]


def _reference_tokens_generated(log, t, *, before=False):
    """tokens_generated as it was before the sorted columns were kept (`Generated`): every call sorts."""
    def step(at, mass, t, side):
        order = np.argsort(at, kind="stable")
        cum = np.concatenate(([0.0], np.cumsum(mass[order])))
        return cum[np.searchsorted(at[order], t, side=side)]

    def ramp(at, rate, t):
        order = np.argsort(at, kind="stable")
        a, r = at[order], rate[order]
        cr, cra = np.concatenate(([0.0], np.cumsum(r))), np.concatenate(([0.0], np.cumsum(r * a)))
        k = np.searchsorted(a, t, side="right")
        return cr[k] * t - cra[k]
    t = np.asarray(t, dtype=np.float64)
    done = (log.status == Status.COMPLETED) & ~np.isnan(log.first_token_s) & ~np.isnan(log.finish_s)
    first, finish = log.first_token_s[done], log.finish_s[done]
    gen = log.generated_tokens[done].astype(np.float64)
    rest = np.maximum(gen - 1.0, 0.0)
    dur = finish - first
    spread = dur > 0
    rate = np.where(spread, rest / np.where(spread, dur, 1.0), 0.0)
    points = np.concatenate([first[gen >= 1], finish[~spread]])
    mass = np.concatenate([np.ones(int((gen >= 1).sum())), rest[~spread]])
    out = step(points, mass, t, "left" if before else "right")
    out += ramp(first[spread], rate[spread], t) - ramp(finish[spread], rate[spread], t)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 5), st.sampled_from([0.0, 0.0, 1.0, 3.5]),
                          st.integers(0, 40), st.sampled_from([Status.COMPLETED, Status.COMPLETED, Status.FAILED])),
                min_size=0, max_size=40), st.floats(1, 20))
def test_sorting_once_gives_the_same_bits(rows, window):
    """Generated (sorted once, read at any times) equals the per-call computation bit for bit."""
    n = len(rows)
    arrival = np.array([r[0] for r in rows], dtype=float)
    first = arrival + np.array([r[1] for r in rows], dtype=float)
    finish = first + np.array([r[2] for r in rows], dtype=float)
    log = RequestLog(id=np.arange(n), arrival_s=arrival, first_token_s=first, finish_s=finish,
                     input_tokens=np.full(n, 10), output_tokens=np.array([r[3] for r in rows], dtype=int),
                     generated_tokens=np.array([r[3] for r in rows], dtype=int),
                     status=np.array([int(r[4]) for r in rows], dtype=int))
    t0, t1 = grid(60.0, window)
    edges = np.append(t0, t1[-1])
    for before in (False, True):
        assert tokens_generated(log, edges, before=before).tobytes() == \
            _reference_tokens_generated(log, edges, before=before).tobytes()


def test_flow_makes_ten_tokens_a_second():
    thr = throughput_curve(flow().log, *grid(300.0, 10.0))
    # request i's tokens all land in window (i + 1) // 10: 9 requests in the first window, then 10
    assert thr[0] == pytest.approx(9.0) and thr[1:-1].tolist() == pytest.approx([10.0] * 28)
    assert thr[-1] == pytest.approx(10.1)   # the last window also takes request 299's first token at 300 s


# the run identical to its baseline --------------------------------------------------------------
def test_identical_run_scores_100():
    base = flow()
    rep = analyze_resilience(base, base, faults=[FaultWindow("f", 100.0, 130.0)], slo=Slo(ttft_s=1.0))
    assert rep.score.score == 100.0 and rep.cliffs == []
    (f,) = rep.faults
    assert not f.impacted and f.time_to_recover_s == 0.0 and f.lost_output_tokens == 0.0
    assert f.max_throughput_drop == 0.0 and all(c.penalty == 0.0 for c in rep.score.components)
    assert analyze_resilience(base, base).score.score == 100.0      # no faults at all


# a constructed dip ------------------------------------------------------------------------------
def dip():
    base = flow()
    run = flow(fail=lambda ids, arr: (arr >= 100) & (arr < 130))      # requests 100..129 fail on arrival
    dets = [Detection(90.0, "r0"), Detection(101.0, "r9"), Detection(104.0, "r0", reason="router: health check"),
            Detection(110.0, "r0", healthy=True)]
    return run, base, analyze_resilience(run, base, faults=[FaultWindow("faults[0] gpu_crash", 100.0, 130.0, ("r0",))],
                                         detections=dets, slo=Slo(ttft_s=1.0))


def test_time_to_detect_and_recover_on_a_dip():
    _, _, rep = dip()
    (f,) = rep.faults
    assert f.time_to_detect_s == pytest.approx(4.0) and f.detected_by == "r0: router: health check"
    # windows [100,110): 1 tok/s (request 99 only), [110,130): 0 and no first token, [130,140): 9 tok/s
    # (within 20% of 10); the last bad window starts at 120, then three good ones from 130
    assert rep.curves["throughput_tok_s"][10:14].tolist() == pytest.approx([1.0, 0.0, 0.0, 9.0])
    assert rep.curves["within_tolerance"][9:14].tolist() == [True, False, False, False, True]
    assert f.impacted and f.recovered_at_s == 130.0 and f.time_to_recover_s == 30.0
    assert f.impact_end_s == 160.0                      # recovery + 3 confirming windows


def test_lost_tokens_drop_and_requests_on_a_dip():
    _, _, rep = dip()
    (f,) = rep.faults
    # (10 - 1) x 10 + 10 x 10 + 10 x 10 + (10 - 9) x 10 = 30 requests x 10 tokens
    assert f.lost_output_tokens == pytest.approx(300.0) and f.max_throughput_drop == 1.0
    assert f.requests == {"failed": 30, "rejected": 0, "retried": 0}
    assert f.baseline_requests == {"failed": 0, "rejected": 0, "retried": 0}
    assert f.slo_attainment["during"] == 1.0 and f.slo_attainment["baseline_during"] == 1.0
    assert rep.run["lost_output_tokens"] == pytest.approx(300.0) and rep.run["excess_requests_lost"] == 30
    assert rep.run["output_tokens_deficit"] == 300.0


def test_score_by_hand_on_a_dip():
    _, _, rep = dip()
    comp = {c.name: c for c in rep.score.components}
    # 30 of 300 requests lost; 300 of 3000 tokens; 30 of the baseline's 299 good requests (finished
    # by the horizon); 30 s to recover; one cliff
    expected = {"failed_requests": 30 * (1 - math.exp(-0.1 / 0.01)), "rejected_requests": 0.0,
                "lost_throughput": 20 * (1 - math.exp(-0.1 / 0.05)),
                "lost_goodput": 20 * (1 - math.exp(-(30 / 299) / 0.05)), "recovery": 15 * (1 - math.exp(-30 / 300)),
                "cliffs": 5 * 0.5}
    assert {k: c.penalty for k, c in comp.items()} == pytest.approx(expected)
    assert rep.score.score == pytest.approx(100 - sum(expected.values()))
    # everything happened in the fault's impact span: all of it is the fault's
    assert rep.score.per_fault["faults[0] gpu_crash"] == pytest.approx(sum(expected.values()))
    assert all(c.unattributed == pytest.approx(0.0) for c in comp.values())
    (cliff,) = rep.cliffs
    assert cliff.kind == "throughput" and cliff.t_s == 100.0 and cliff.change > 0.5
    assert cliff.caused_by == ["faults[0] gpu_crash"] and "started" in cliff.cause
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["score"]["score"] == round(rep.score.score, 3) and len(d["curves"]["t0_s"]) == 30


def test_failures_outside_every_fault_are_unattributed():
    base = flow()
    run = flow(fail=lambda ids, arr: (arr >= 250) & (arr < 253))
    rep = analyze_resilience(run, base, faults=[FaultWindow("f", 100.0, 130.0)])
    comp = {c.name: c for c in rep.score.components}
    assert comp["failed_requests"].penalty > 0 and comp["failed_requests"].per_fault == {"f": 0.0}
    assert comp["failed_requests"].unattributed == pytest.approx(comp["failed_requests"].penalty)
    assert not rep.faults[0].impacted and rep.faults[0].time_to_recover_s == 0.0


def test_never_recovered_counts_to_the_horizon():
    base = flow()
    run = flow(fail=lambda ids, arr: arr >= 100)
    rep = analyze_resilience(run, base, faults=[FaultWindow("dead", 100.0, None)])
    (f,) = rep.faults
    assert f.time_to_recover_s is None and f.recovered_at_s is None and f.impact_end_s == 300.0
    rec = {c.name: c for c in rep.score.components}["recovery"]
    assert rec.measure == 200.0


def test_effects_after_the_fault_delay_recovery_until_the_next_fault():
    base = flow(horizon=400.0)
    # fault a hurts [100, 110), then [200, 220) (its restart), fault b starts at 300: windows 10, 20
    # and 21 are out of tolerance (window 11 and 22 lose one request of ten: within 20%)
    run = flow(horizon=400.0, fail=lambda ids, arr: ((arr >= 100) & (arr < 110)) | ((arr >= 200) & (arr < 220)))
    faults = [FaultWindow("a", 100.0, 150.0), FaultWindow("b", 300.0, 310.0)]
    rep = analyze_resilience(run, base, faults=faults)
    a, b = rep.faults
    assert a.recovered_at_s == 220.0 and a.time_to_recover_s == 120.0
    assert not b.impacted and b.time_to_recover_s == 0.0


def test_repeated_fault_names_are_made_unique():
    base = flow()
    rep = analyze_resilience(base, base, faults=[FaultWindow("x", 10.0, 20.0), FaultWindow("x", 50.0, 60.0)])
    assert [f.name for f in rep.faults] == ["x", "x (2)"]
    assert FaultWindow.from_dict({"cause": "faults[0] random_failures: gpu", "occurrence": 2, "start_s": 1.0,
                                  "end_s": 2.0}).name == "faults[0] random_failures: gpu #2"


# cliffs -----------------------------------------------------------------------------------------
def test_cliff_fires_on_a_60pct_drop_within_10s():
    t0, _ = grid(300.0, 2.5)
    thr = np.where(t0 < 100.0, 100.0, 40.0)
    base = np.full(len(t0), 100.0)
    assert throughput_cliffs(t0, thr, base, drop=0.5, lookback=4) == [(40, 100.0, 40.0)]
    # a fall in the middle of a window still fires (the 4-window lookback spans 10 s)
    thr_mid = np.interp(t0, [0, 98.0, 103.0, 300], [100, 100, 40, 40])
    assert len(throughput_cliffs(t0, thr_mid, base, drop=0.5, lookback=4)) == 1
    # the baseline fell too: the workload did it, not a fault
    assert throughput_cliffs(t0, thr, thr.copy(), drop=0.5, lookback=4) == []


def test_no_cliff_on_a_slow_60pct_decline_over_5_minutes():
    t0, _ = grid(400.0, 2.5)
    thr = np.interp(t0, [0, 50, 350, 400], [100, 100, 40, 40])
    assert throughput_cliffs(t0, thr, np.full(len(t0), 100.0), drop=0.5, lookback=4) == []


def test_cliffs_end_to_end():
    base = flow(rate=20.0, decode=1.0)
    # from 100 s on, 60% of requests fail at once (every request whose id % 5 < 3)
    sudden = flow(rate=20.0, decode=1.0, fail=lambda ids, arr: (arr >= 100) & (ids % 5 < 3))
    rep = analyze_resilience(sudden, base, faults=[FaultWindow("f", 99.0, None)])
    # requests arriving just before 100 s still decode in [100, 102.5): the fall shows in the next window
    assert [(c.kind, c.t_s) for c in rep.cliffs] == [("throughput", 102.5)]
    assert rep.cliffs[0].change == pytest.approx(0.6, abs=0.05) and rep.faults[0].cliffs == [0]
    # the same loss ramped in over 5 minutes (a growing share of ids fails)
    frac = lambda arr: np.clip((arr - 0.0) / 300.0, 0, 1) * 0.6
    slow = flow(rate=20.0, decode=1.0, fail=lambda ids, arr: ((ids * 0.6180339887) % 1.0) < frac(arr))
    assert analyze_resilience(slow, base, faults=[FaultWindow("f", 0.0, None)]).cliffs == []


def test_ttft_cliff():
    ttft = np.array([1.0, 1.1, 0.9, 5.0, 6.0, 1.0])
    base = np.full(6, 1.0)
    assert ttft_cliffs(ttft, base, factor=3.0, lookback=1) == [(3, 0.9, 5.0)]   # 6 is not 3 x 5
    base_slow = np.array([1.0, 1.1, 0.9, 4.0, 4.0, 1.0])
    assert ttft_cliffs(ttft, base_slow, factor=3.0, lookback=1) == []


def test_config_changes_the_windows():
    run, base, _ = dip()
    rep = analyze_resilience(run, base, faults=[FaultWindow("f", 100.0, 130.0)],
                             config=ResilienceConfig(window="5s", recovery_windows=2))
    assert len(rep.curves["t0_s"]) == 60 and rep.faults[0].recovered_at_s == 130.0


# the score as a property -------------------------------------------------------------------------
BASE = flow(120.0, rate=5.0, decode=20.0, tokens=40)


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 599), max_size=150), st.sets(st.integers(0, 599), max_size=30))
def test_score_never_rises_with_more_lost_requests(some, more):
    fault = [FaultWindow("f", 30.0, 60.0)]
    a = analyze_resilience(flow(120.0, rate=5.0, decode=20.0, tokens=40, fail=lambda i, t: np.isin(i, list(some))),
                           BASE, faults=fault, slo=Slo(ttft_s=1.0))
    b = analyze_resilience(flow(120.0, rate=5.0, decode=20.0, tokens=40,
                                fail=lambda i, t: np.isin(i, list(some | more))),
                           BASE, faults=fault, slo=Slo(ttft_s=1.0))
    pa = {c.name: c.penalty for c in a.score.components}
    pb = {c.name: c.penalty for c in b.score.components}
    for name in SCORE_WEIGHTS:
        if name != "cliffs":          # the one part that is not monotone (see the module docstring)
            assert pb[name] >= pa[name] - 1e-9, name
    assume(len(b.cliffs) >= len(a.cliffs))
    assert b.score.score <= a.score.score + 1e-9
    assert (a.score.score == 100.0) == (not some)


def test_instant_fault_and_fault_after_the_horizon():
    run, base, _ = dip()
    rep = analyze_resilience(run, base, faults=[FaultWindow("crash", 100.0, 100.0), FaultWindow("late", 400.0, 500.0)],
                             settle_s=30.0)
    (f,) = rep.faults                       # the fault after the horizon did nothing and is left out
    assert (f.start_s, f.end_s) == (100.0, 130.0) and f.time_to_recover_s == 30.0


# time to recover: a sustained return, judged on several signals (issue #16.5) ---------------------
def test_one_noisy_window_long_after_a_sustained_return_does_not_undo_the_recovery():
    base = flow()
    run = flow(fail=lambda ids, arr: (arr >= 100) & (arr < 130))
    log = run.log
    late = (log.arrival_s >= 280) & (log.arrival_s < 290)       # ten requests slowed near the end
    log.first_token_s[late] += 6.0
    log.finish_s[late] += 6.0
    rep = analyze_resilience(run, base, faults=[FaultWindow("f", 100.0, None)])
    ok = rep.curves["within_tolerance"]
    assert ok[13:28].all() and not ok[28]                       # back for 15 windows, then one noisy one
    (f,) = rep.faults
    assert f.time_to_recover_s == 30.0 and f.recovered_at_s == 130.0
    assert f.recovery_by_signal["failures"] == 30.0 and f.windows_out["throughput"] >= 3


def test_failures_and_capacity_count_even_when_throughput_stays_within_tolerance():
    horizon = 600.0
    base = flow(horizon)
    # 2 of 8 replicas down for 4 minutes: one request in six fails, a 17% throughput drop (< 20%)
    run = flow(horizon, fail=lambda ids, arr: (arr >= 100) & (arr < 340) & (ids % 6 == 0))
    assert 39 <= (run.log.status == int(Status.FAILED)).sum() <= 41
    rep = analyze_resilience(run, base, faults=[FaultWindow("two down", 100.0, 340.0)])
    (f,) = rep.faults
    assert f.max_throughput_drop <= 0.2 and f.windows_out["throughput"] == 0
    assert f.impacted and f.time_to_recover_s == pytest.approx(240.0)
    # capacity alone: replicas down for the same 4 minutes, nothing failed, no throughput lost: the
    # service did not suffer (no time to recover) but the fleet ran short for 4 minutes
    from chaos.metrics import FleetSeries
    series = {name: FleetSeries() for name in ("run", "base")}
    for t in np.arange(0.0, horizon, 5.0):
        series["base"].append(float(t), replicas_up={"aggregated": 8})
        series["run"].append(float(t), replicas_up={"aggregated": 6 if 100 <= t < 340 else 8})
    rep = analyze_resilience(RunData(base.log, horizon, series["run"]), RunData(base.log, horizon, series["base"]),
                             faults=[FaultWindow("two down", 100.0, 340.0)])
    (f,) = rep.faults
    assert f.recovery_by_signal == {"throughput": 0.0, "ttft": 0.0, "failures": 0.0, "capacity": 240.0}
    assert f.time_to_recover_s == 0.0 and f.windows_out["capacity"] == 24
