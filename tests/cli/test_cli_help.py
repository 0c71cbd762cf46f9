"""Help and terminal output a newcomer reads right (issue #17 item 7, item 10's dry-run lines)."""
from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chaos.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
# every command registered on the app, also those other modules add (export-trace, verify, serve ...)
COMMANDS = sorted(typer.main.get_command(app).commands)


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]], ids=["app", *COMMANDS])
def test_help_has_no_python_types(command):
    out = runner.invoke(app, [*command, "--help"]).output
    for leak in ("<list[", "<bool>", "<int>", "<path>", "<str>", "{scenario}", "{what}", "{files}"):
        assert leak not in out, (leak, out)
    assert "c\n ontrollers" not in out and "ontrollers>" not in out


def test_help_is_not_wrapped_mid_sentence_when_piped():
    out = runner.invoke(app, ["run", "--help"]).output
    # the option's description is whole on its line, not broken at 80 columns
    assert any("also run the fault-free twin (default: when there are faults or a probe compares with the baseline)"
               in line for line in out.splitlines())
    for name in ("report.html", "report.md", "timeline.png", "baseline_requests.csv"):
        assert name in out
    assert "--set KEY=VALUE" in out and "--out DIR" in out


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("fleetchaos ")


@pytest.mark.parametrize("what", ["gpu", "GPUs", "model", "router", "fault", "controller", "probe", "probes"])
def test_list_accepts_singulars_and_probes(what):
    res = runner.invoke(app, ["list", what])
    assert res.exit_code == 0, res.output


def test_list_prints_whole_sentences_without_backticks():
    for what in ("routers", "faults", "controllers", "probes"):
        out = runner.invoke(app, ["list", what]).output
        assert "`" not in out
        for line in out.splitlines():
            text = line.split(None, 1)[1]
            assert not text.startswith("{"), line                      # not a YAML example
            assert text.rstrip().endswith((".", ")")), line            # a whole sentence
    probes = runner.invoke(app, ["list", "probes"]).output
    assert "throughput_tok_s" in probes and "ttft_p99" in probes


def test_list_models_table_is_not_cut_when_piped():
    out = runner.invoke(app, ["list", "models"]).output
    assert "weights GB" in out and "…" not in out


def test_list_unknown_kind_suggests():
    res = runner.invoke(app, ["list", "modles"])
    assert res.exit_code == 2 and "did you mean models?" in res.output


def test_dry_run_has_no_ring_for_tp1_and_counts_one_occurrence(tmp_path):
    res = runner.invoke(app, ["run", str(ROOT / "examples" / "fleet-small.yaml"), "--dry-run",
                              "--set", "deployment.tp=1", "--set", "deployment.replicas=8", "--set", "deployment.spares=0"])
    assert res.exit_code == 0, res.output
    assert "ring" not in res.output and "faults (1 occurrence):" in res.output
    assert "overrides: deployment.tp=1, deployment.replicas=8, deployment.spares=0" in res.output


def test_run_lists_every_file_written_and_quiet_says_where_the_report_is(tmp_path):
    scenario = ROOT / "examples" / "fleet-small.yaml"
    res = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    wrote = next(line for line in res.output.splitlines() if line.startswith("wrote "))
    for name in ("journal.json", "requests.csv", "baseline_requests.csv", "report.html", "report.md", "timeline.png"):
        assert name in wrote
    assert "resilience score:" in res.output and "/100 against the fault-free twin" in res.output
    # not a terminal: the summary line is whole, not wrapped at 80 columns mid-phrase
    assert any(line.startswith("throughput: ") and "SLO attainment" in line for line in res.output.splitlines())
    quiet = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "b"), "-q"])
    assert quiet.exit_code == 0 and f"report: {tmp_path / 'b' / 'report.html'}" in quiet.output
    assert "TTFT" not in quiet.output


def test_a_mistake_caused_by_an_override_names_it():
    res = runner.invoke(app, ["run", str(ROOT / "faults" / "gpu-crash.yaml"), "--dry-run", "--set", "duration=2m"])
    assert res.exit_code == 2
    assert "gpu-crash.yaml:27:" in res.output and "(with --set duration=2m)" in res.output
    assert "overrides: duration=2m" in res.output
    plain = runner.invoke(app, ["run", str(ROOT / "faults" / "gpu-crash.yaml"), "--dry-run",
                                "--set", "duration=2m", "--set", "faults=[]"])
    assert plain.exit_code == 0, plain.output
