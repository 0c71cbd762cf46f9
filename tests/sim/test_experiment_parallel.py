"""The faulted run and its twin in two processes give byte-identical results to one process."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.report.journal import build_journal
from chaos.scenario import load_scenario
from chaos.sim import experiment as experiment_mod
from chaos.sim.experiment import run_experiment, twin_in_parallel

ROOT = Path(__file__).resolve().parents[2]


def _bytes(exp, tmp_path: Path, tag: str) -> dict[str, bytes]:
    out = {}
    for name, result in (("faulted", exp.result), ("twin", exp.baseline)):
        csv = tmp_path / f"{tag}-{name}.csv"
        result.log.to_csv(csv)
        out[f"{name}.csv"] = csv.read_bytes()
        out[f"{name}.itl"] = result.itl.gaps_s.tobytes() + result.itl.weights.tobytes() + result.itl.t_s.tobytes()
    journal = build_journal(exp.result, exp)
    journal.pop("fleetchaos_version", None)
    out["journal"] = json.dumps(journal, sort_keys=True).encode()
    return out


def test_parallel_twin_equals_the_serial_twin_byte_for_byte(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_mod, "usable_cores", lambda: 2)   # a 1-core CI box still forks
    sc = load_scenario(ROOT / "examples" / "fleet-small.yaml", overrides=["duration=90s"])
    assert twin_in_parallel(sc) and not twin_in_parallel(sc, parallel=False)
    parallel = run_experiment(sc, parallel=True)
    serial = run_experiment(sc, parallel=False)
    assert parallel.baseline.fleet is None and serial.baseline.fleet is None    # the twin keeps no fleet
    assert parallel.baseline.scenario is serial.baseline.scenario or \
        parallel.baseline.scenario.scenario_hash() == serial.baseline.scenario.scenario_hash()
    a, b = _bytes(parallel, tmp_path, "p"), _bytes(serial, tmp_path, "s")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key
    assert parallel.verdict == serial.verdict and len(parallel.baseline.log) > 100


def test_the_scenario_key_and_one_core_keep_the_twin_in_this_process(monkeypatch):
    sc = load_scenario(ROOT / "examples" / "fleet-small.yaml", overrides=["experiment.parallel_twin=false"])
    monkeypatch.setattr(experiment_mod, "usable_cores", lambda: 2)
    assert not twin_in_parallel(sc) and twin_in_parallel(sc, parallel=True)
    monkeypatch.setattr(experiment_mod, "usable_cores", lambda: 1)
    assert not twin_in_parallel(sc, parallel=True)


def test_an_error_in_the_twin_process_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(experiment_mod, "usable_cores", lambda: 2)
    sc = load_scenario(ROOT / "examples" / "fleet-small.yaml", overrides=["duration=70s"])

    def broken(scenario, **kwargs):
        if not scenario.faults:
            raise RuntimeError("twin exploded")
        return real(scenario, **kwargs)
    real = experiment_mod.run
    monkeypatch.setattr(experiment_mod, "run", broken)
    with pytest.raises(RuntimeError, match="twin exploded"):
        run_experiment(sc, parallel=True)


def test_a_run_keeps_only_requests_in_flight_as_objects(monkeypatch):
    """Finished requests go to the columnar log as they finish; at the horizon the driver holds only
    the requests still in flight, and the log still has every request once, by id."""
    import importlib
    run_mod = importlib.import_module("chaos.sim.run")
    seen = []

    class Watched(run_mod.Driver):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            seen.append(self)
    monkeypatch.setattr(run_mod, "Driver", Watched)
    result = run_mod.run(load_scenario(ROOT / "examples" / "fleet-small.yaml", overrides=["duration=90s"]))
    driver = seen[0]
    counts = result.log.counts()
    assert len(driver.requests) == counts["in_flight"] < 100 < len(driver.log) == counts["arrived"] - counts["in_flight"]
    assert result.log.id.tolist() == list(range(len(result.log)))


def test_id_set_holds_ids_as_bytes():
    from chaos.sim.arrivals import IdSet
    ids = IdSet()
    for rid in (5, 0, 70_000, 3):
        ids.add(rid)
    assert all(r in ids for r in (0, 3, 5, 70_000))
    assert not any(r in ids for r in (1, 4, 69_999, 70_001, 10**9))
