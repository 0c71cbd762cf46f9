"""engine.backend in a scenario: the profile drives latencies, the journal names the source; typos exit 2."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from chaos.cli import app
from test_cli import SMALL, write

runner = CliRunner()


def _run(tmp_path, backend: str | None, name: str):
    doc = json.loads(json.dumps(SMALL)) | {"duration": "20s"}
    if backend is not None:
        doc["engine"] = {"backend": backend}
    out = tmp_path / name
    res = runner.invoke(app, ["run", str(write(tmp_path, doc, f"{name}.yaml")), "--out", str(out), "-q",
                              "--no-baseline"])
    return res, out


def test_backend_choice_moves_latency_and_is_journaled(tmp_path):
    journals = {}
    for backend in ("vllm", "sglang", "trtllm"):
        res, out = _run(tmp_path, backend, backend)
        assert res.exit_code == 0, res.output
        journals[backend] = json.loads((out / "journal.json").read_text())
    lat = journals["sglang"]["fleet"]["latency"]
    assert lat["source"] == "roofline" and lat["backend"] == "sglang"
    assert set(lat["factor_sources"]) == {"gemm", "attention", "hbm", "allreduce", "overhead", "moe"}
    assert any("prefill_first" in note for note in lat["scheduler"]["approximations"])
    assert journals["trtllm"]["scenario"]["resolved"]["engine"]["backend"] == "trtllm"
    tpot = {b: j["summary"]["tpot_s"]["p50"] for b, j in journals.items()}
    assert tpot["vllm"] > tpot["sglang"] > tpot["trtllm"]
    default, _ = _run(tmp_path, None, "default")
    assert default.exit_code == 0


def test_unknown_backend_exits_2_with_line_and_choices(tmp_path):
    res, _ = _run(tmp_path, "sglng", "typo")
    assert res.exit_code == 2
    assert "engine.backend" in res.output and "did you mean sglang" in res.output
    assert "typo.yaml:" in res.output


def test_list_backends_shows_the_bundled_profiles():
    res = runner.invoke(app, ["list", "backends"])
    assert res.exit_code == 0
    for name in ("vllm", "sglang", "trtllm"):
        assert name in res.output
