"""report.html opened in headless Chromium: it renders with no console message, and a screenshot is
kept as a test artifact (under pytest's tmp dir and copied to reports/test-artifacts/).

Needs Debian's `chromium` package (CI: `apt-get install -y --no-install-recommends chromium`); the
tests skip with that hint when no Chromium is on the PATH.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chaos.report import render_report
from report_checks import png_size

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "reports" / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 2000)
# Chromium logs every console message of the page on stderr as `...:INFO:CONSOLE:12] "text", source: ...`
# (older builds: `CONSOLE(12)`).
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]?\s*(.*)")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium not found: install it with `apt-get install -y --no-install-recommends "
                "chromium` (Debian) to run the browser checks of the report")


def open_headless(page: Path, tmp: Path, *, screenshot: Path | None = None, dump_dom: bool = False):
    """Load `page` in headless Chromium; returns (console messages, stdout). Give `screenshot` or
    `dump_dom`: without either, headless Chromium keeps the page open and never exits."""
    assert screenshot is not None or dump_dom
    cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
           f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars"]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    if dump_dom:
        cmd.append("--dump-dom")
    cmd.append(page.resolve().as_uri())
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    messages = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    return messages, proc.stdout


def test_console_detector_catches_errors(tmp_path):
    """The check below would see an error: a page that logs one is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); nope();</script></body></html>')
    messages, _ = open_headless(page, tmp_path, dump_dom=True)
    assert any("boom" in m for m in messages)
    assert any("nope is not defined" in m for m in messages)


@pytest.fixture(scope="module")
def pages(enriched, journals, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("browser")
    return {
        "report": render_report([enriched], out / "report").html,
        "comparison": render_report([journals["gpu-crash"], journals["disagg-node-loss"]], out / "cmp").html,
    }


@pytest.mark.parametrize("which", ["report", "comparison"])
def test_page_renders_without_console_errors(pages, which, tmp_path):
    shot = tmp_path / f"{which}.png"
    messages, _ = open_headless(pages[which], tmp_path, screenshot=shot)
    assert messages == [], f"console messages: {messages}"
    data = shot.read_bytes()
    assert png_size(data) == WINDOW
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTIFACTS / f"{which}-screenshot.png"
    shutil.copyfile(shot, kept)
    print(f"\nscreenshot of {which}.html: {shot}\n  kept as artifact: {kept}")
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(shot) as im:
        colours = im.convert("RGB").resize((128, 200)).getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50, "the screenshot looks blank"


def test_rendered_dom_has_the_report(pages, tmp_path):
    messages, dom = open_headless(pages["report"], tmp_path, dump_dom=True)
    assert messages == []
    for text in ("deviated", "Key metrics", "Phase: during", "Resilience per fault", "scenario hash"):
        assert text in dom
    assert dom.count("<img") == 5


def _experiment_dir(out: Path, overrides: list[str]) -> Path:
    """A real experiment (the twin, the hypothesis, the resilience score) written as `fleetchaos run` does."""
    from chaos import testing
    from chaos.report.journal import write_journal
    from report_helpers import SHORT
    scenario, short = SHORT["gpu-crash"]
    exp = testing.run(ROOT / scenario, set=dict(o.split("=", 1) for o in
                                                [*short, "steady_state[1].window=20s", *overrides]))
    out.mkdir(parents=True, exist_ok=True)
    write_journal(exp.result, out / "journal.json", exp)
    exp.result.log.to_csv(out / "requests.csv")
    exp.baseline.log.to_csv(out / "baseline_requests.csv")
    return out


@pytest.fixture(scope="module")
def experiment_pages(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("experiments")
    strong = _experiment_dir(out / "strong", [])
    weak = _experiment_dir(out / "weak", ["router.policy=round_robin", "recovery.requests=fail"])
    return {"experiment-report": render_report([strong], out / "report").html,
            "experiment-comparison": render_report([strong, weak], out / "cmp").html}


@pytest.mark.parametrize("which", ["experiment-report", "experiment-comparison"])
def test_experiment_pages_read_right_in_the_browser(experiment_pages, which, tmp_path):
    """Issue #17: the rendered wording a newcomer reads — the limit first in a ratio tolerance, one row
    per probe, the score explained in units, one decimal everywhere; screenshots kept as artifacts."""
    page = experiment_pages[which]
    shot = tmp_path / f"{which}.png"
    messages, _ = open_headless(page, tmp_path, screenshot=shot)
    assert messages == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / f"{which}-screenshot.png")
    _, dom = open_headless(page, tmp_path, dump_dom=True)
    text = re.sub(r"<[^>]+>", " ", dom)
    assert re.search(r"/100", text) and not re.search(r"\b\d+/100", text.replace(".", "")) is None
    assert re.search(r"\d+\.\d/100", text), "the score with one decimal, as the CLI prints it"
    assert "`" not in text
    if which == "experiment-report":
        assert re.search(r"&gt;= \d+ – \d+ tok/s \(0\.6 x baseline per window\)", dom) or \
            re.search(r"&gt;= \d+ tok/s \(0\.6 x baseline \d+ tok/s\)", dom)
        assert dom.count("<td>throughput_tok_s</td>") == 1, "one row per probe, not per window"
        assert "How the score of" in text and "of requests arrived" in text and "points lost" in text
        assert "during " in text and "%, after " in text          # per-fault SLO attainment in %
