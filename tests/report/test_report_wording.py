"""Numbers in the report carry their units (issue #17 item 3) and small promises of the README hold."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import yaml

from chaos.report import tables
from chaos.report.view import RunView

ROOT = Path(__file__).resolve().parents[2]


def test_durations_have_units_wherever_they_sit():
    assert tables.value_text("stall_after", 30.0) == "30.00s"
    assert tables.value_text("ramp_up", 20.0) == "20.00s"
    assert tables.inline({"backoff": {"base": 0.1, "max": 2.0}}) == "backoff {base 100.0ms, max 2.00s}"
    assert tables.inline({"admission": {"max_predicted_ttft": 8.0, "max_queue": 2}}) == \
        "admission {max_predicted_ttft 8.00s, max_queue 2}"


def test_times_written_by_the_simulation_read_as_durations():
    assert tables.times_in_text("restart; serving at 815.000s") == "restart; serving at 13m35s"
    assert tables.times_in_text("no time here, 3 replicas") == "no time here, 3 replicas"


def test_router_counters_are_listed_once():
    run = RunView.__new__(RunView)
    run.router = {"retries": 4, "hedges": 935, "rejections": 51, "errors": 0,
                  "rejections_by_reason": {"admission: predicted TTFT over limit": 51}}
    run.request_path = {"hedges": 935, "retries": 4, "lost on failure": 2,
                        "rejected: admission: predicted TTFT over limit": 51}
    labels = [k for k, _ in tables.router_rows(run)]
    assert labels.count("hedges") == 1 and "requests hedges" not in labels and "requests retries" not in labels
    assert "requests lost on failure" in labels and not any(k.startswith("requests rejected") for k in labels)
    assert "errors" not in labels                         # zeros left out


def test_requests_csv_status_is_spelled_as_the_readme_says(tmp_path):
    from chaos import testing
    exp = testing.run(ROOT / "examples" / "fleet-small.yaml", baseline=False, set={"duration": "30s", "faults": []})
    exp.result.log.to_csv(tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as fh:
        statuses = {row["status"] for row in csv.DictReader(fh)}
    readme = (ROOT / "README.md").read_text()
    documented = re.search(r"status \(([A-Z_, ]+), upper case\)", readme).group(1).split(", ")
    assert statuses and statuses <= set(documented)


def test_the_mooncake_example_checks_the_slo_it_states():
    """Issue #17: it said 'held' with TTFT p99 far above its own SLO because it checked only p50s."""
    sc = yaml.safe_load((ROOT / "examples" / "mooncake-8xh100.yaml").read_text())
    probes = {p["probe"]: p for p in sc["steady_state"]}
    for key, target in sc["slo"].items():
        assert key in probes and probes[key]["max"] == target, key
    assert probes["requests_lost"]["max"] == 0


def test_a_ratio_probe_is_one_row_with_its_limits_and_counts_are_by_probe():
    """Issue #17: each window of a ratio probe has its own limit, so the old table made a row per
    window and said "(1 of 8 probes failed)" for a scenario with 2 probes."""
    from chaos.report.view import Check, Hypothesis

    def check(i, probe, value, base, ok, tol):
        return Check(probe=probe, phase="during", t0=60.0 * i, t1=60.0 * (i + 1), value=value, baseline_value=base,
                     tolerance=tol, ok=ok, faults_active=("faults[0] gpu_crash",), index=0 if probe != "requests_failed"
                     else 1, rule=">= 0.7 x baseline" if probe != "requests_failed" else "<= 0 requests")
    checks = [check(i, "throughput_tok_s", v, b, v >= 0.7 * b, f">= {0.7 * b:.0f} tok/s (0.7 x baseline {b:g} tok/s)")
              for i, (v, b) in enumerate([(900.0, 1000.0), (600.0, 982.8), (1000.0, 1100.0), (950.0, 1050.0)])]
    checks.append(check(0, "requests_failed", 0.0, 0.0, True, "<= 0 requests"))
    run = RunView.__new__(RunView)
    run.hypothesis = Hypothesis(verdict="deviated", checks=checks, per_phase={})
    ((phase, status, table),) = tables.hypothesis_tables(run)
    assert status == "1 of 2 probes failed"
    assert [r[0] for r in table.rows] == ["throughput_tok_s", "requests_failed"]
    row = table.rows[0]
    assert row[1] == ">= 688 – 770 tok/s (0.7 x baseline per window)"
    assert row[2:5] == ["4", "1", "FAILED"]
    assert row[8] == ">= 688 tok/s (0.7 x baseline 982.8 tok/s)"
