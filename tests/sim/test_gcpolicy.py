"""The run's collector policy is restored afterwards, also when the run raises, and respects a caller's own."""
from __future__ import annotations

import gc

import pytest

from chaos.sim.gcpolicy import GEN0_THRESHOLD, run_gc


@pytest.fixture(autouse=True)
def _pristine_gc():
    old, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    gc.enable()
    yield
    gc.set_threshold(*old)
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_settings_hold_during_the_run_and_are_restored_after():
    with run_gc() as freeze:
        assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
        kept = [object() for _ in range(3)]
        freeze()
        assert gc.get_freeze_count() > 0
        freeze()                                   # idempotent
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0
    del kept


def test_restored_when_the_run_raises():
    with pytest.raises(RuntimeError):
        with run_gc() as freeze:
            freeze()
            raise RuntimeError("the run failed")
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_a_callers_own_policy_is_kept():
    gc.set_threshold(50_000, 20, 20)               # a larger threshold is never lowered
    gc.freeze()                                    # the caller froze its own heap (before a fork, say)
    count = gc.get_freeze_count()                  # (frozen objects that die leave it: it only shrinks)
    fresh = [[] for _ in range(1000)]
    with run_gc() as freeze:
        assert gc.get_threshold() == (50_000, 20, 20)
        freeze()
        assert gc.get_freeze_count() <= count      # the 1,000 fresh lists were not frozen
    assert gc.get_freeze_count() > 0               # and the caller's heap was not unfrozen
    del fresh
    assert gc.get_threshold() == (50_000, 20, 20)
    gc.unfreeze()
    gc.disable()
    with run_gc() as freeze:
        freeze()
        assert gc.get_freeze_count() == 0          # the collector is off: nothing to freeze for
    assert not gc.isenabled()


def test_a_run_leaves_the_collector_as_it_found_it(tmp_path, monkeypatch):
    import importlib

    from chaos.scenario import load_scenario_text
    from chaos.sim import run
    from sim_scenarios import scenario_text

    scenario = load_scenario_text(scenario_text(requests=20), "test.yaml", tmp_path)
    result = run(scenario)
    assert len(result.log) == 20
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0

    def boom(*args, **kwargs):
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == GEN0_THRESHOLD
        raise RuntimeError("summary failed")
    monkeypatch.setattr(importlib.import_module("chaos.sim.run"), "summarize", boom)
    with pytest.raises(RuntimeError, match="summary failed"):
        run(scenario)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0
