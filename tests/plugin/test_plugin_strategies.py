"""chaos.strategies: schedules valid on the real fleet; a property search that finds and shrinks the weak
policy's counterexample, whose YAML, written back into faults/ and run as a scenario, still fails."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given

from chaos import strategies, testing
from chaos.sim.build import check_scenario
from plugin_helpers import DATA, warm_up

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).parents[2] / "examples"
FLEET = testing.load(DATA / "small-fleet.yaml")


def test_targets_come_from_the_placement():
    t = strategies.targets_of(FLEET)
    assert t.replicas == ("aggregated-0", "aggregated-1", "aggregated-2")      # the spare is not a target
    assert t.gpus == ("rack0/host0/gpu0", "rack0/host0/gpu4", "rack0/host1/gpu0")
    assert t.hosts == ("rack0/host0", "rack0/host1") and t.racks == ("rack0",)


@strategies.chaos_settings(max_examples=30)
@given(faults=strategies.fault_schedules(FLEET, kinds=strategies.KINDS, max_faults=3, within=("0s", "90s"),
                                         durations=("5s", "1m")))
def test_every_generated_schedule_is_valid_on_the_scenario(faults):
    assert 1 <= len(faults) <= 3
    starts = [float(f["at"][:-1]) for f in faults]
    assert starts == sorted(starts) and all(0 <= s <= 90 for s in starts)
    check_scenario(strategies.with_faults(FLEET, faults))     # plans every fault on the fleet: no error


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match="kinds: expected one of .*but got 'gpu_crsh'.*did you mean gpu_crash"):
        strategies.fault_schedules(FLEET, kinds=["gpu_crsh"])
    with pytest.raises(ValueError, match="within: fault starts up to 5m00s|within: fault starts up to 300s"):
        strategies.gpu_crashes(FLEET, within=("0s", "5m"))
    with pytest.raises(ValueError, match="durations: expected"):
        strategies.gpu_crashes(FLEET, durations=("1m", "10s"))


def test_schedule_yaml_is_the_resolved_scenario_with_the_new_faults():
    weak = testing.load(DATA / "small-fleet.yaml", set={"recovery.requests": "fail"})
    faults = [{"type": "gpu_crash", "at": "30s", "duration": "10s", "target": {"gpu": "rack0/host0/gpu4"}}]
    text = strategies.schedule_yaml(weak, faults, comment="two lines\nof comment")
    assert text.startswith("# two lines\n# of comment\nname: small-fleet-counterexample\n")
    data = yaml.safe_load(text)
    assert data["faults"] == faults and data["recovery"] == {"requests": "fail"}
    again = strategies.with_faults(weak, faults)
    from chaos.scenario import load_scenario_text
    back = load_scenario_text(text, "x.yaml", DATA)
    assert back.model_copy(update={"name": again.name}).scenario_hash() == again.scenario_hash()


PROPERTY = '''
from pathlib import Path
from hypothesis import given
from chaos import testing
from chaos.strategies import chaos_settings, gpu_crashes, note_schedule, with_faults

FLEET = Path(__file__).parent / "fleet.yaml"
WEAK = testing.load(FLEET, set={"router": {"policy": "least_outstanding"}, "recovery.requests": "fail",
                                "controller.policy": "restart"})

@chaos_settings(max_examples=20, database=None)
@given(faults=gpu_crashes(FLEET, max_faults=2, within=("0s", "60s"), durations=("10s", "40s")))
def test_two_crashes_lose_nothing(faults):
    run = testing.run(with_faults(WEAK, faults), baseline=False)
    note_schedule(run.result.scenario, faults, name="weak-two-crashes", relative_to=Path(__file__).parent / "faults")
    testing.assert_no_requests_lost(run)
'''


def schedule_from(output: str) -> str:
    """The YAML between the note's markers, without pytest's "E   " prefixes."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if strategies.SCHEDULE_BEGIN in line)
    end = next(i for i, line in enumerate(lines) if strategies.SCHEDULE_END in line)
    prefix = lines[start][:lines[start].index(strategies.SCHEDULE_BEGIN)]
    return "\n".join(line[len(prefix):] for line in lines[start + 1:end]) + "\n"


def test_a_property_search_shrinks_the_weak_policys_counterexample_and_the_yaml_still_fails(pytester):
    warm_up()
    shutil.copy(DATA / "small-fleet.yaml", pytester.path / "fleet.yaml")
    pytester.makepyfile(test_property=PROPERTY)
    result = pytester.runpytest("-p", "no:cacheprovider", "test_property.py")
    result.assert_outcomes(failed=1)
    # hypothesis says "Falsifying example:" (before 6.16x) or "Failing test case:" (after)
    result.stdout.fnmatch_lines(["*: test_two_crashes_lose_nothing(",
                                 "*faults=[[]{'type': 'gpu_crash', 'at': '60s', 'duration': '10s', "
                                 "'target': {'gpu': 'rack0/host0/gpu0'}}],*"])
    text = schedule_from(result.stdout.str())
    data = yaml.safe_load(text)
    # shrunk: one crash (fewer), at the end of the window (later), the shortest (shorter), the first replica
    assert data["faults"] == [{"type": "gpu_crash", "at": "60s", "duration": "10s",
                               "target": {"gpu": "rack0/host0/gpu0"}}]
    assert data["name"] == "weak-two-crashes" and data["recovery"] == {"requests": "fail"}
    (pytester.path / "faults").mkdir()
    (pytester.path / "faults" / "weak-two-crashes.yaml").write_text(text)
    result = pytester.runpytest("-p", "no:cacheprovider", "faults")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["steady-state hypothesis deviated: run 'weak-two-crashes'*",
                                 "  steady_state[[]0] requests_lost = * requests in during window *"])


def test_the_example_file_passes_with_the_weak_policy_as_its_known_failure(pytester):
    warm_up()
    for name in ("test_fleet_resilience.py", "fleet-small.yaml"):
        shutil.copy(EXAMPLES / name, pytester.path / name)
    # in a subprocess: the main session may already have imported examples/test_fleet_resilience.py
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rx", "test_fleet_resilience.py")
    result.assert_outcomes(passed=5, xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL *[[]weak] - without health checks a dead replica takes all traffic"])


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_schedule_file_keeps_units():
    """Issue #17: note_schedule's file said `duration: 180.0`, `rate: 6.0`; it reads like the original."""
    from chaos import testing
    from chaos.scenario import load_scenario_text
    from chaos.strategies import schedule_yaml
    sc = testing.load(EXAMPLES / "fleet-small.yaml")
    text = schedule_yaml(sc, [{"type": "gpu_crash", "at": 120.0, "duration": 10.0, "target": {"replica": "aggregated-0"}}])
    for line in ("duration: 3m", "rate: 6/s", "at: 2m", "duration: 10s", "interval: 2s", "window: 30s, max: 3s"):
        assert line in text, line
    again = load_scenario_text(text, "schedule.yaml", EXAMPLES)
    assert again.resolved_dict()["faults"][0]["at"] == 120.0 and again.duration == 180.0
