"""Session fixtures: the report tests' journals (see report_helpers)."""
from __future__ import annotations

from pathlib import Path

import pytest

from report_helpers import SHORT, enrich, run_to_dir


@pytest.fixture(scope="session")
def journals(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("journals")
    return {name: run_to_dir(f, o, base / name) for name, (f, o) in SHORT.items()}


@pytest.fixture(scope="session")
def enriched(tmp_path_factory) -> Path:
    """gpu-crash (short) with a real baseline twin plus hypothesis, resilience and verdict sections."""
    f, o = SHORT["gpu-crash"]
    return enrich(run_to_dir(f, o, tmp_path_factory.mktemp("enriched") / "gpu-crash", baseline=True))
