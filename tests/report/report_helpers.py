"""Journals for the report tests: short versions of three real scenarios, written as `fleetchaos run` does.

`journals["gpu-crash"]` etc. are run folders holding journal.json and requests.csv, as `fleetchaos run`
writes them. `enriched` adds the sections other rooms are adding (a real fault-free baseline twin,
a hypothesis with a failing probe, resilience numbers, a verdict) so those code paths are exercised.
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (scenario file, overrides that keep it short) — each still plays its fault and its controller.
SHORT = {
    "gpu-crash": ("faults/gpu-crash.yaml",
                  ["duration=150s", "faults[0].at=40s", "faults[0].duration=40s", "controller.restart_time=20s"]),
    "disagg-node-loss": ("faults/disagg-node-loss.yaml", ["duration=150s", "faults[0].at=40s"]),
    "mooncake-8xh100": ("examples/mooncake-8xh100.yaml", ["workload.trace.limit=1500"]),
}


def run_to_dir(scenario_file: str, overrides: list[str], out: Path, *, baseline: bool = False) -> Path:
    """Run a scenario as `fleetchaos run` does and write journal.json + requests.csv into `out`.

    With `baseline`, also run its fault-free twin and store it as the journal's `baseline` section and
    baseline_requests.csv (the shape the baseline issue is adding)."""
    from chaos.report.journal import build_journal
    from chaos.scenario import load_scenario
    from chaos.sim import run

    out.mkdir(parents=True, exist_ok=True)
    result = run(load_scenario(ROOT / scenario_file, overrides))
    journal = build_journal(result)
    result.log.to_csv(out / "requests.csv")
    if baseline:
        twin = run(load_scenario(ROOT / scenario_file, [*overrides, "faults=[]"]))
        twin_journal = build_journal(twin)
        journal["baseline"] = {k: twin_journal[k] for k in ("summary", "time_series", "fleet_series")}
        twin.log.to_csv(out / "baseline_requests.csv")
    path = out / "journal.json"
    path.write_text(json.dumps(journal, indent=1) + "\n")
    return path


def enrich(journal_path: Path) -> Path:
    """Add hypothesis, resilience and verdict sections (shaped as the issue describes) in place."""
    j = json.loads(journal_path.read_text())
    fault = j["faults"][0]
    t0, t1 = fault["start_s"], fault["end_s"]
    j["hypothesis"] = {
        "verdict": "deviated",
        "checks": [
            {"probe": "ttft_p99", "phase": "before", "t0": 0.0, "t1": t0, "value": 1.2, "baseline_value": 1.1,
             "tolerance": "max 5s", "ok": True, "faults_active": []},
            {"probe": "throughput_tok_s", "phase": "during", "t0": t0, "t1": t1, "value": 2100.0,
             "baseline_value": 4000.0, "tolerance": "min_ratio_to_baseline 0.7", "ok": False,
             "faults_active": [fault["cause"]]},
            {"probe": "requests_failed", "phase": "after", "t0": t1, "t1": j["horizon_s"], "value": 0,
             "baseline_value": 0, "tolerance": {"max": 0}, "ok": True, "faults_active": []},
        ],
        "per_phase": {"before": {"verdict": "held"}, "during": {"verdict": "deviated"}, "after": {"verdict": "held"}},
    }
    j["resilience"] = {
        "score": 71.5,
        "breakdown": {"availability": 0.93, "latency": 0.71, "recovery": 0.8},
        "per_fault": [{"fault": fault["cause"], "time_to_detect_s": 11.2, "time_to_recover_s": 64.0,
                       "max_throughput_drop": 0.47, "lost_output_tokens": 18234, "requests_lost": 3}],
        "cliffs": [{"t_s": t0 + 10.0, "drop": 0.47, "cause": fault["cause"]}],
    }
    j["verdict"] = "deviated"
    journal_path.write_text(json.dumps(j, indent=1) + "\n")
    return journal_path
