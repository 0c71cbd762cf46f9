"""Broken scenario files (tests/scenario/broken/): each has exactly one mistake and says on its first
line what the error must look like:

    # expect: line <N>[ in <file>]: <fragment>[ | <fragment>...]

The error's first line must name the file (the scenario itself, or `<file>` relative to it when the
mistake lives in an included fault list) and `:<N>:`, and contain every fragment. Each file goes
through the real command line: `fleetchaos validate` and `fleetchaos run --dry-run` exit 2 with that
message and no traceback; one subprocess runs `python -m chaos` over all of them.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: line (\d+)(?: in (\S+))?: (.+)$")


def expectation(path: Path) -> tuple[str, int, list[str]]:
    """(file the error must name, relative to BROKEN; line; fragments) from the first line of `path`."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = _EXPECT.match(first)
    assert m, f"{path.name}: first line must be '# expect: line N[ in FILE]: fragment | ...', not {first!r}"
    fragments = [f.strip() for f in m.group(3).split(" | ") if f.strip()]
    return m.group(2) or path.name, int(m.group(1)), fragments


def check_message(path: Path, output: str) -> None:
    where, line, fragments = expectation(path)
    assert "Traceback" not in output, output
    first = output.strip().splitlines()[0] if output.strip() else ""
    assert first.startswith(f"error: {where}:{line}:"), f"{path.name}: expected {where}:{line}: first, got\n{output}"
    for fragment in fragments:
        assert fragment in output, f"{path.name}: {fragment!r} not in\n{output}"


def test_the_suite_is_big_enough():
    assert len(FILES) >= 30
    assert [f.name[:2] for f in FILES] == [f"{i:02d}" for i in range(1, len(FILES) + 1)]


@pytest.mark.parametrize("command", [["validate"], ["run", "--dry-run"]], ids=["validate", "dry-run"])
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_broken_file_through_cli(path, command, monkeypatch):
    monkeypatch.chdir(BROKEN)
    result = CliRunner().invoke(app, [*command, path.name])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    check_message(path, result.output)


def test_python_m_chaos_validate_stops_at_the_first_broken_file():
    """The real entry point: exit 2, one located message for the first file, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "chaos", "validate", *[f.name for f in FILES]],
                          cwd=BROKEN, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    check_message(FILES[0], proc.stderr)


# One interpreter runs `python -m chaos validate FILE` for every file (runpy, like `-m` does) and
# reports each exit code and stderr; a traceback escaping the CLI is reported as such.
_DRIVER = """
import contextlib, io, json, runpy, sys, traceback
out = {}
for name in sys.argv[1:]:
    err = io.StringIO()
    sys.argv = ["chaos", "validate", name]
    code = None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            runpy.run_module("chaos", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            err.write(traceback.format_exc())
    out[name] = [code, err.getvalue()]
print(json.dumps(out))
"""


def test_python_m_chaos_validate_on_every_file():
    proc = subprocess.run([sys.executable, "-c", _DRIVER, *[f.name for f in FILES]], cwd=BROKEN,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    results = json.loads(proc.stdout)
    for path in FILES:
        code, stderr = results[path.name]
        assert code == 2, (path.name, code, stderr)
        check_message(path, stderr)
