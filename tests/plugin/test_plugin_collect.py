"""Scenario files are tests: which files are collected, what a deviation says, what the options do."""
from __future__ import annotations

import json

import pytest

from plugin_helpers import copy_data, warm_up

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def _warm():
    warm_up()

TOPOLOGY = """\
name: two-hosts
gpu: h100-sxm
racks: 1
hosts_per_rack: 2
gpus_per_host: 8
"""


def test_scenario_files_under_faults_and_named_chaos_are_collected_and_other_yaml_is_not(pytester):
    copy_data(pytester, "small-fleet.yaml", "faults/small-fleet.yaml")
    copy_data(pytester, "small-fleet.yaml", "faults/nested/deeper.yml")
    copy_data(pytester, "small-fleet.yaml", "suite/chaos_small.yaml")
    copy_data(pytester, "small-fleet.yaml", "suite/small.chaos.yaml")
    copy_data(pytester, "small-fleet.yaml", "suite/plain.yaml")           # no pattern matches
    copy_data(pytester, "small-fleet.yaml", "myfaults/x.yaml")            # not a folder named faults
    (pytester.path / "faults" / "fabric.yaml").write_text(TOPOLOGY)       # YAML, but not a scenario
    (pytester.path / "faults" / "README.md").write_text("# faults\n")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines_random([
        "faults/small-fleet.yaml::small-fleet",
        "faults/nested/deeper.yml::small-fleet",
        "suite/chaos_small.yaml::small-fleet",
        "suite/small.chaos.yaml::small-fleet",
        "4 tests collected*",
    ])
    result.stdout.no_fnmatch_line("*plain.yaml*")
    result.stdout.no_fnmatch_line("*myfaults*")
    result.stdout.no_fnmatch_line("*fabric.yaml*")


def test_the_ini_option_replaces_the_patterns(pytester):
    pytester.makeini("[pytest]\nfleetchaos_patterns =\n    scenarios/*.yaml\n")
    copy_data(pytester, "small-fleet.yaml", "scenarios/one.yaml")
    copy_data(pytester, "small-fleet.yaml", "faults/two.yaml")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/one.yaml::small-fleet", "1 test collected*"])


def test_a_held_hypothesis_passes_and_a_deviated_one_fails_with_the_explanation(pytester):
    copy_data(pytester, "small-fleet.yaml", "faults/small-fleet.yaml")
    copy_data(pytester, "weak-crash.yaml", "faults/weak-crash.yaml")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ scenario: weak-crash _*",
        "steady-state hypothesis deviated: run 'weak-crash' (seed 3 from faults/weak-crash.yaml, horizon 2m00s), "
        "with the fault-free twin",
        "  steady_state[[]0] requests_lost = * requests in during window [[]40.00s, 1m10s) while faults[[]0] gpu_crash: "
        "tolerance <= 0 requests",
        "faults:",
        "  faults[[]0] gpu_crash rack0/host0/gpu1 [[]40.00s, 1m10s) -> lost aggregated-0",
        "requests: * arrived, * completed, * failed, 0 rejected, * in flight at the horizon",
        "resilience score: */100",
        "  faults[[]0] gpu_crash: detected after *, max throughput drop *%",
        "report: reports/pytest/faults_weak-crash.yaml__weak-crash/report.html",
        "FAILED faults/weak-crash.yaml::weak-crash - steady-state hypothesis deviated*",
    ])
    report = pytester.path / "reports/pytest/faults_weak-crash.yaml__weak-crash"
    assert (report / "report.html").is_file() and (report / "journal.json").is_file()
    assert json.loads((report / "journal.json").read_text())["verdict"] == "deviated"
    assert not (pytester.path / "reports/pytest/faults_small-fleet.yaml__small-fleet").exists()  # passing: none


def test_invalid_scenarios_fail_with_file_line_and_field_and_scenarios_without_hypothesis_skip(pytester):
    bad = copy_data(pytester, "small-fleet.yaml", "faults/bad.yaml")
    bad.write_text(bad.read_text().replace("model: llama-3.1-8b", "model: llama-9"))
    none = copy_data(pytester, "small-fleet.yaml", "faults/none.yaml")
    none.write_text(none.read_text().split("steady_state:")[0])
    broken = pytester.path / "faults" / "broken.yaml"
    broken.write_text("name: x\ndeployment: [\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(failed=2, skipped=1)
    result.stdout.fnmatch_lines_random([
        "invalid scenario: faults/bad.yaml:7:*: deployment.model: *llama-9*",
        "invalid scenario: faults/broken.yaml:*",
        "SKIPPED [[]1] faults/none.yaml: none.yaml: no steady_state probes, nothing to judge*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def journal(pytester, nodeid_slug: str) -> dict:
    return json.loads((pytester.path / "out" / nodeid_slug / "journal.json").read_text())


def test_seed_quick_no_baseline_and_report_options(pytester):
    copy_data(pytester, "small-fleet.yaml", "faults/small-fleet.yaml")
    result = pytester.runpytest("--chaos-report", "out")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["fleetchaos: patterns faults/**/*.yaml*reports in *out*",
                                 "fleetchaos: reports in *out"])
    plain = journal(pytester, "faults_small-fleet.yaml__small-fleet")
    assert plain["scenario"]["seed"] == 3 and plain["horizon_s"] == 120.0 and "baseline" in plain
    assert (pytester.path / "out/faults_small-fleet.yaml__small-fleet/report.html").is_file()

    result = pytester.runpytest("--chaos-report", "out", "--chaos-seed", "11", "--chaos-quick", "--chaos-no-baseline")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["fleetchaos: *seed 11, quick, no baseline, reports in *"])
    quick = journal(pytester, "faults_small-fleet.yaml__small-fleet")
    # the crash ends at 1m10s; settle 20s; max(2 x 20s window, 60s) -> 2m30s, longer than the run: kept
    assert quick["scenario"]["seed"] == 11 and quick["horizon_s"] == 120.0 and "baseline" not in quick


def test_quick_cuts_the_horizon_after_the_last_fault(pytester):
    long = copy_data(pytester, "small-fleet.yaml", "faults/long.yaml")
    long.write_text(long.read_text().replace("duration: 2m\n", "duration: 10m\n"))
    result = pytester.runpytest("--chaos-report", "out", "--chaos-quick")
    result.assert_outcomes(passed=1)
    assert journal(pytester, "faults_long.yaml__small-fleet")["horizon_s"] == 70.0 + 20.0 + 60.0
