"""pytest -n 2 gives the same verdicts, and byte-identical journals, as a serial run."""
from __future__ import annotations

import re
import shutil

import pytest

from plugin_helpers import copy_data

pytest_plugins = ["pytester"]
pytest.importorskip("xdist")


def outcomes(result) -> dict[str, str]:
    found = re.findall(r"^(PASSED|FAILED|SKIPPED|ERROR) (\S+::\S+)", result.stdout.str(), re.M)
    return {node: outcome for outcome, node in found}


def test_xdist_gives_the_same_verdicts_and_journals(pytester):
    copy_data(pytester, "small-fleet.yaml", "faults/small-fleet.yaml")
    copy_data(pytester, "weak-crash.yaml", "faults/weak-crash.yaml")
    other = copy_data(pytester, "weak-crash.yaml", "chaos_other-seed.yaml")
    other.write_text(other.read_text().replace("name: weak-crash", "name: other-seed").replace("seed: 3", "seed: 8"))
    reports = pytester.path / "reports" / "pytest"       # where failing scenarios' reports go
    serial = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    journals = {p.parent.name: p.read_bytes() for p in reports.glob("*/journal.json")}
    shutil.rmtree(reports)
    parallel = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", "-n", "2")
    assert outcomes(serial) == outcomes(parallel) == {
        "faults/small-fleet.yaml::small-fleet": "PASSED",
        "faults/weak-crash.yaml::weak-crash": "FAILED",
        "chaos_other-seed.yaml::other-seed": "FAILED"}
    assert sorted(journals) == ["chaos_other-seed.yaml__other-seed", "faults_weak-crash.yaml__weak-crash"]
    for run, serial_bytes in journals.items():
        assert (reports / run / "journal.json").read_bytes() == serial_bytes
