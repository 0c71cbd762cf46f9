"""metrics.spill: a run that writes finished rows and closed ITL windows to disk gives the same results."""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine.itl import ITLRecorder, TenantITL, bin_samples
from chaos.engine.replica import Replica
from chaos.metrics import spill
from chaos.report.journal import build_journal
from chaos.scenario import load_scenario
from chaos.sim.run import run

run_mod = importlib.import_module("chaos.sim.run")   # the module (chaos.sim.run is also the function)

ROOT = Path(__file__).resolve().parents[2]


def _bytes(result, path: Path) -> dict[str, bytes]:
    result.log.to_csv(path)
    journal = build_journal(result)
    journal.pop("fleetchaos_version", None)
    # the setting itself is part of the resolved scenario (and so of its hash), like experiment.parallel_twin
    journal["scenario"].pop("hash")
    journal["scenario"]["resolved"]["metrics"].pop("spill")
    itl = result.itl
    return {"requests.csv": path.read_bytes(),
            "itl": itl.gaps_s.tobytes() + itl.weights.tobytes() + itl.t_s.tobytes(),
            "journal": json.dumps(journal, sort_keys=True).encode()}


def test_spill_on_and_off_give_byte_identical_logs_itl_and_journal(tmp_path, monkeypatch):
    # small chunks and frequent folds so a short run spills many times
    monkeypatch.setattr(spill, "CHUNK_ROWS", 1_000)
    monkeypatch.setattr(run_mod, "ITL_FOLD_S", 60.0)
    sc = load_scenario(ROOT / "faults" / "crash-restart.yaml", overrides=["duration=6m"])
    off = run(sc.model_copy(update={"metrics": sc.metrics.model_copy(update={"spill": "off"})}))
    on = run(sc.model_copy(update={"metrics": sc.metrics.model_copy(update={"spill": "on"})}))
    assert isinstance(on.log.finish_s.base, np.memmap) and isinstance(on.itl.gaps_s.base, np.memmap)
    assert not isinstance(off.log.finish_s.base, np.memmap)
    a, b = _bytes(off, tmp_path / "off.csv"), _bytes(on, tmp_path / "on.csv")
    for key in a:
        assert a[key] == b[key], key
    assert len(on.log) > 3_000 and len(on.itl.gaps_s) > 1_000


def test_the_switch_reads_yaml_on_off_and_refuses_other_values():
    from chaos.errors import ScenarioError
    from chaos.scenario import load_scenario_text
    text = (ROOT / "examples" / "fleet-small.yaml").read_text()
    assert load_scenario_text(text, base_dir=ROOT / "examples").metrics.spill == "auto"
    for value, expected in (("on", "on"), ("off", "off"), ("auto", "auto"), ("true", "on")):
        sc = load_scenario_text(text + f"\nmetrics: {{window: 10s, spill: {value}}}\n", base_dir=ROOT / "examples")
        assert sc.metrics.spill == expected
    with pytest.raises(ScenarioError, match=r"metrics\.spill.*sometimes"):
        load_scenario_text(text + "\nmetrics: {window: 10s, spill: sometimes}\n", base_dir=ROOT / "examples")


class _Replica:
    """The ITL side of a replica (its recorder and tenant recorders), as the fleet's fold sees it."""

    take_closed_tenant_itl = Replica.take_closed_tenant_itl
    tenant_itl_samples = Replica.tenant_itl_samples

    def __init__(self, window_s: float) -> None:
        self.itl, self._titl = ITLRecorder(), TenantITL()
        self.itl.bin_by(window_s)
        self._titl.bin_by(window_s)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["on", "off"]), n_replicas=st.integers(1, 4),
       n_folds=st.integers(2, 6))
def test_fleet_itl_folds_equal_bin_samples_of_every_sample_spilled_or_not(seed, mode, n_replicas, n_folds):
    """The fleet's ITL histogram, folded from every replica's recorder at each fold time (closed
    windows written to disk when spilling, late samples included), ends with exactly bin_samples'
    bins of every sample recorded, and each tenant's samples are exactly the replicas' bin_samples
    one after another: the mode changes where bins live, never their values."""
    rng = np.random.default_rng(seed)
    window = 10.0
    fleet = SimpleNamespace(replicas={i: _Replica(window) for i in range(n_replicas)})
    fleet_itl = run_mod._FleetItl(window, mode, tenants=True)
    everything, per_tenant, now = [], {}, 0.0
    for _ in range(n_folds):
        end = now + float(rng.choice([20.0, 35.0, 60.0]))
        for rid, r in fleet.replicas.items():
            t = now - float(rng.choice([0.0, 0.0, 0.0, 25.0]))          # sometimes a late sample
            while t < end:
                k = int(rng.integers(1, 30))
                gaps = float(rng.choice([0.02, 0.0315, 0.4])) + np.arange(k) * float(rng.choice([0.0, 3e-7, 2e-6]))
                times = max(t, 0.0) + np.cumsum(gaps)
                tenants = rng.integers(0, 3, size=int(rng.integers(1, 9)))
                for tenant in tenants.tolist():
                    r._titl.enter(tenant)
                    per_tenant.setdefault((tenant, rid), []).append((times, gaps, np.ones(k)))
                r._titl.snapshot()
                r._titl.add_many(times, gaps)
                r._titl.clear()
                r.itl.add_many(times, gaps, len(tenants))
                everything.append((times, gaps, np.full(k, len(tenants))))
                t = float(times[-1]) + float(rng.choice([0.0, 4.0]))
        now = end
        fleet_itl.fold(fleet, now)
    got = fleet_itl.samples(fleet)
    t, g, w = (np.concatenate(c) for c in zip(*everything))
    want_t, want_g, want_w = bin_samples(t, g, w, window)
    assert got.t_s.tobytes() == want_t.tobytes() and got.gaps_s.tobytes() == want_g.tobytes()
    assert got.weights.tobytes() == want_w.tobytes()
    assert fleet_itl.spilled == (mode == "on")     # the second fold writes what closed by the first
    by_tenant = run_mod._tenant_itl(fleet, SimpleNamespace(by_tenant={}), window, fleet_itl.tenants)
    assert sorted(by_tenant) == sorted({tenant for tenant, _ in per_tenant})
    for tenant, samples in by_tenant.items():
        want = [bin_samples(*(np.concatenate(c) for c in zip(*per_tenant[tenant, rid])), window)
                for rid in fleet.replicas if (tenant, rid) in per_tenant]
        for got_col, want_col in ((samples.t_s, [x[0] for x in want]), (samples.gaps_s, [x[1] for x in want]),
                                  (samples.weights, [x[2] for x in want])):
            assert got_col.tobytes() == np.concatenate(want_col).tobytes()
        assert isinstance(samples.gaps_s.base, np.memmap) == (mode == "on")


def test_a_run_with_tenants_spills_their_itl_too(monkeypatch):
    """With tenants, metrics.spill also moves each tenant's closed ITL windows to disk (memory-mapped
    at the end), and the per-tenant samples are byte for byte those of the in-memory run."""
    monkeypatch.setattr(run_mod, "ITL_FOLD_S", 60.0)
    sc = load_scenario(ROOT / "faults" / "tenant-spike.yaml", overrides=["duration=4m"])
    off = run(sc.model_copy(update={"metrics": sc.metrics.model_copy(update={"spill": "off"})}))
    on = run(sc.model_copy(update={"metrics": sc.metrics.model_copy(update={"spill": "on"})}))
    assert sorted(on.tenant_itl) == sorted(off.tenant_itl) == [0, 1]
    for tenant, a in off.tenant_itl.items():
        b = on.tenant_itl[tenant]
        assert isinstance(b.gaps_s.base, np.memmap) and not isinstance(a.gaps_s.base, np.memmap)
        assert a.gaps_s.tobytes() == b.gaps_s.tobytes() and a.weights.tobytes() == b.weights.tobytes()
        assert a.t_s.tobytes() == b.t_s.tobytes() and len(a.gaps_s) > 1_000
    assert on.tenant_summaries == off.tenant_summaries
