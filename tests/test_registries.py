"""What is registered is what `fleetchaos list` shows and what the README documents (STYLE point 4)."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.control import CONTROLLERS
from chaos.faults import FAULTS
from chaos.routing import ROUTERS
from chaos.sweep.executors import EXECUTORS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("what,registry", [("routers", ROUTERS), ("faults", FAULTS), ("controllers", CONTROLLERS),
                                           ("executors", EXECUTORS)])
def test_registered_names_are_listed_and_documented(what, registry):
    listed = CliRunner().invoke(app, ["list", what])
    assert listed.exit_code == 0, listed.output
    shown = {line.split()[0] for line in listed.output.splitlines() if line.strip()}
    assert shown == set(registry.names())
    undocumented = [name for name in registry.names() if f"`{name}`" not in README and f" {name} " not in README
                    and f"{name}," not in README and f"| {name}" not in README]
    assert not undocumented, f"README does not mention {undocumented}"


def test_duplicate_registration_is_refused():
    from chaos.errors import RegistryError
    with pytest.raises(RegistryError, match="registered twice"):
        ROUTERS.register("round_robin")(object)
