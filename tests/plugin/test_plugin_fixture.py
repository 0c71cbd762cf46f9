"""The fleetchaos fixture and the scenario marker, in a user's test file run by pytester."""
from __future__ import annotations

import pytest

from plugin_helpers import copy_data, warm_up

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def _warm():
    warm_up()


def test_the_fixture_loads_modifies_and_runs_scenarios_relative_to_the_test_file(pytester):
    copy_data(pytester, "small-fleet.yaml", "suite/small-fleet.yaml")
    pytester.makepyfile(**{"suite/test_user": """
        from chaos.testing import assert_no_requests_lost, assert_better

        def test_run(fleetchaos):
            strong = fleetchaos.run("small-fleet.yaml")
            weak = fleetchaos.run("small-fleet.yaml", set={"router": {"policy": "least_outstanding"},
                                                           "recovery.requests": "fail"})
            assert strong.verdict == "held" and weak.verdict == "deviated"
            assert strong.baseline is not None and strong.resilience is not None
            assert_no_requests_lost(strong)
            assert_better(strong, weak, metric="requests_lost")
            assert fleetchaos.run("small-fleet.yaml") is strong          # deterministic: run once

        def test_seed_baseline_and_load(fleetchaos):
            exp = fleetchaos.run("small-fleet.yaml", seed=5, baseline=False)
            assert exp.result.scenario.seed == 5 and exp.baseline is None
            sc = fleetchaos.load("small-fleet.yaml", set={"controller.policy": ["restart"]})
            assert sc.controller.policy == ["restart"]
            assert fleetchaos.run(sc).result.scenario.controller.policy == ["restart"]
    """})
    result = pytester.runpytest("suite", "-q")
    result.assert_outcomes(passed=2)


def test_the_marker_parametrizes_a_test_with_scenario_runs_and_a_matrix_of_policies(pytester):
    copy_data(pytester, "small-fleet.yaml", "suite/data/small-fleet.yaml")
    pytester.makepyfile(**{"suite/test_marked": """
        import pytest
        from chaos.testing import assert_no_requests_lost

        @pytest.mark.scenario("data/small-fleet.yaml",
                              matrix={"recovery.requests": ["migrate", "fail"]})
        def test_policies(experiment):
            assert_no_requests_lost(experiment)

        @pytest.mark.scenario("data/small-fleet.yaml", set={"seed": 9})
        @pytest.mark.scenario("data/small-fleet.yaml", seed=4, baseline=False)
        def test_two_scenarios(experiment):
            assert experiment.result.scenario.seed in (9, 4)
    """})
    result = pytester.runpytest("suite", "-v")
    result.stdout.fnmatch_lines_random([
        "*test_policies[[]small-fleet-migrate] PASSED*",
        "*test_policies[[]small-fleet-fail] FAILED*",
        "*test_two_scenarios[[]small-fleet0] PASSED*",
        "*test_two_scenarios[[]small-fleet1] PASSED*",
    ])
    result.stdout.fnmatch_lines(["E * requests lost by run 'small-fleet' *: * failed, 0 rejected of * arrived"])
    result.assert_outcomes(passed=3, failed=1)


def test_marker_mistakes_are_collection_errors_with_the_fix(pytester):
    pytester.makepyfile(
        test_missing="""
            import pytest

            @pytest.mark.scenario("nowhere.yaml")
            def test_missing(experiment):
                pass
        """,
        test_no_argument="""
            import pytest

            @pytest.mark.scenario("nowhere.yaml")
            def test_no_argument():
                pass
        """,
        test_typo="""
            import pytest

            @pytest.mark.scenario("nowhere.yaml", polices=["restart"])
            def test_typo(experiment):
                pass
        """,
        test_unmarked="""
            def test_unmarked(experiment):
                pass
        """)
    result = pytester.runpytest("-q", "--continue-on-collection-errors")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines_random([
        "*test_missing: @pytest.mark.scenario: scenario file *nowhere.yaml' not found (paths are relative to the "
        "test file's folder)",
        "*test_no_argument: @pytest.mark.scenario passes the run as the `experiment` argument*",
        "*test_typo: @pytest.mark.scenario got unknown keyword(s) polices; expected set, matrix, seed, baseline",
        "*the `experiment` fixture comes from @pytest.mark.scenario*",
    ])
