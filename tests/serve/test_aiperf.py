"""AIPerf itself against `fleetchaos serve` (optional): replay the exported trace with `aiperf profile`,
then `fleetchaos verify` reads its profile_export.jsonl. AIPerf (PyPI `aiperf`) is heavy and builds its
prompts with a tokenizer from a model hub, so this runs only when it is installed and a local tokenizer
is named in FLEETCHAOS_AIPERF_TOKENIZER; otherwise it skips and says why."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.verify import read_measured
from chaos.workload.export import aiperf_command
from tests.serve.conftest import serving

SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "serve-70b.yaml"


@pytest.mark.slow
def test_aiperf_replays_the_trace_against_serve(tmp_path):
    if shutil.which("aiperf") is None:
        pytest.skip("AIPerf is not installed (pip install aiperf); it cannot run here")
    tokenizer = os.environ.get("FLEETCHAOS_AIPERF_TOKENIZER")
    if not tokenizer or not Path(tokenizer).exists():
        pytest.skip("AIPerf needs a tokenizer from a model hub to build prompts, and this machine is offline: "
                    "set FLEETCHAOS_AIPERF_TOKENIZER to a local tokenizer folder to run this test")
    trace = tmp_path / "trace.jsonl"
    assert CliRunner().invoke(app, ["export-trace", str(SCENARIO), "--out", str(trace)]).exit_code == 0
    artifacts = tmp_path / "artifacts"
    with serving(SCENARIO, speed=1.0) as srv:
        argv = aiperf_command(trace, model="llama-3.1-70b", url=srv.url, tokenizer=tokenizer)
        done = subprocess.run([*argv, "--artifact-dir", str(artifacts)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    export = next(artifacts.rglob("profile_export.jsonl"))
    measured = read_measured(export)
    assert measured.log.counts()["completed"] == len(trace.read_text().splitlines())
    res = CliRunner().invoke(app, ["verify", str(export), "--scenario", str(SCENARIO), "--out", str(tmp_path / "v"),
                                   "--tolerance", "tpot_p50=25%,e2e_p50=25%"])
    assert res.exit_code in (0, 1), res.output        # it reads and compares; the verdict is AIPerf's to give
