"""Fixtures for whole-run tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_scenario(tmp_path):
    """Write scenario text to a file and return its path."""
    counter = iter(range(10**6))

    def write(text: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"scenario{next(counter)}.yaml")
        path.write_text(text)
        return path
    return write
