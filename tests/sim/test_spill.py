"""metrics.spill: a run that writes finished rows and closed ITL windows to disk gives the same results."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

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
