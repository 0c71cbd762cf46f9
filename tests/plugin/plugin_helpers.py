"""Shared bits of the plugin tests (imported by name, like the other rooms' helpers; no conftest)."""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

DATA = Path(__file__).parent / "data"


def copy_data(pytester, name: str, dest: str) -> Path:
    """Copy tests/plugin/data/<name> into the pytester folder at `dest` (folders made as needed)."""
    target = pytester.path / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / name, target)
    return target


@functools.lru_cache(maxsize=None)
def warm_up() -> None:
    """Run and report one small scenario in this process before any in-process pytester run.

    pytester's inline runs restore sys.modules afterwards, dropping modules first imported inside them
    (numpy's C extension, matplotlib...) and a second import of those fails; importing them here first
    keeps them."""
    from chaos import testing
    with tempfile.TemporaryDirectory() as tmp:
        testing.write_report(testing.run(DATA / "weak-crash.yaml"), Path(tmp))
