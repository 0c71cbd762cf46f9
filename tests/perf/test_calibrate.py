"""`fleetchaos calibrate`: fits recover known factors, errors are reported per point, the profile loads."""
from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from chaos.catalog import load_catalog
from chaos.cli import app
from chaos.errors import InputError
from chaos.perf.calibrate import Point, fit, predict_ms, read_points
from chaos.sim.backend import efficiency_of

CAT = load_catalog()
L8B, H100 = CAT.model("llama-3.1-8b"), CAT.gpu("h100-sxm")
runner = CliRunner()
SHAPES = [("ttft", 1, 512, 0, 0), ("ttft", 8, 2048, 0, 0), ("tpot", 1, 512, 128, 0), ("tpot", 64, 1024, 128, 0),
          ("step", 16, 0, 0, 4000), ("request", 32, 256, 64, 0)]


def _csv(tmp_path, truth, held_out=("step",)):
    rows = ["kind,batch,isl,osl,context,latency_ms,held_out,source"]
    for kind, batch, isl, osl, ctx in SHAPES:
        p = Point(kind, batch, isl, osl, ctx, 1.0, False, "", 0)
        rows.append(f"{kind},{batch},{isl or ''},{osl or ''},{ctx or ''},{predict_ms(p, L8B, H100, 1, truth):.6f},"
                    f"{'true' if kind in held_out else 'false'},synthetic {kind}")
    path = tmp_path / "m.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_fit_recovers_the_factors_that_made_the_measurements(tmp_path):
    start = efficiency_of(CAT.backend("vllm"))
    truth = replace(start, mfu=0.6, memory_efficiency=0.75, overhead_s=2e-3, overhead_prefill_s=3e-3)
    points = read_points(_csv(tmp_path, truth))
    result = fit(points, L8B, H100, 1, start, ("mfu", "memory_efficiency", "overhead_s", "overhead_prefill_s"),
                 prior=1e-4)
    assert max(abs(e) for e in result.errors(after=False)) > 0.1       # the start was off
    assert max(abs(e) for e in result.errors(after=True)) < 0.005      # every point, held-out one included
    assert result.after.mfu == pytest.approx(0.6, rel=0.02)
    assert result.after.memory_efficiency == pytest.approx(0.75, rel=0.02)


def test_bounds_hold(tmp_path):
    start = efficiency_of(CAT.backend("vllm"))
    truth = replace(start, memory_efficiency=0.999)                   # beyond the 0.95 bound
    result = fit(read_points(_csv(tmp_path, truth)), L8B, H100, 1, start, ("memory_efficiency",))
    assert result.after.memory_efficiency <= 0.95


def test_cli_reports_before_after_and_writes_a_loadable_profile(tmp_path):
    truth = replace(efficiency_of(CAT.backend("vllm")), overhead_s=1.5e-3, overhead_prefill_s=2.5e-3)
    out = tmp_path / "cat" / "mine.yaml"
    res = runner.invoke(app, ["calibrate", str(_csv(tmp_path, truth)), "--model", "llama-3.1-8b", "--gpu",
                              "h100-sxm", "--fit", "overhead_s", "--fit", "overhead_prefill_s", "--out", str(out),
                              "--name", "my-vllm"])
    assert res.exit_code == 0, res.output
    assert "held out" in res.output and "before" in res.output and "overhead_s 0.0009 -> 0.001" in res.output
    profile = load_catalog([out.parent]).backend("my-vllm")
    assert profile.factors()["overhead_s"] == pytest.approx(1.5e-3, rel=0.05)   # the weak prior pulls a little
    assert "synthetic ttft" in profile.calibration and "synthetic step" not in profile.calibration
    assert "fitted by fleetchaos calibrate" in dict(profile.sources)["overhead"]


@pytest.mark.parametrize("body, fragment", [
    ("kind,batch,latency_ms\nprefil,1,3\n", "kind: expected one of ttft, tpot, step, request"),
    ("kind,batch,isl,latency_ms\nttft,1,,3\n", "isl: a ttft point needs isl"),
    ("kind,batch,isl,osl,latency_ms\ntpot,1,10,5,fast\n", "latency_ms: expected a number"),
    ("kind,batch\nttft,1\n", "missing column(s) latency_ms"),
    ("kind,batch,isl,latency_ms,held_out\nttft,1,10,3,true\n", "nothing to fit"),
], ids=["kind", "needs-isl", "latency", "column", "all-held-out"])
def test_bad_measurements_name_file_line_and_column(tmp_path, body, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        read_points(path)
    assert fragment in str(info.value) and "bad.csv" in str(info.value)
    res = runner.invoke(app, ["calibrate", str(path), "--model", "llama-3.1-8b", "--gpu", "h100-sxm"])
    assert res.exit_code == 2 and fragment in res.output


def test_bundled_sglang_calibration_meets_the_targets():
    """docs/calibration.md: the bundled sglang profile against SGLang PR 2643 (request latency within 10%)."""
    points = read_points("docs/calibration/sglang-deepseek-v3-h200.csv")
    eff = efficiency_of(CAT.backend("sglang"))
    for p in points:
        err = predict_ms(p, CAT.model("deepseek-v3"), CAT.gpu("h200-sxm"), 8, eff) / p.latency_ms - 1
        assert abs(err) < (0.20 if p.held_out else 0.10), (p, err)
