"""The one exception tree of fleetchaos.

    FleetChaosError                 root: anything fleetchaos raises on purpose
     ├── InputError(ValueError)     the user's input is wrong (exit code 2); carries where and what
     │    ├── UnitError             a quantity like "30s" or "400Gbps" does not parse
     │    ├── CatalogError          unknown GPU/model, malformed catalog file
     │    ├── TopologyError         malformed fabric, unknown element
     │    ├── PlacementError        a deployment does not fit the fabric or the model does not fit in HBM
     │    ├── WorkloadError         missing/malformed trace, bad synthetic parameters
     │    ├── RegistryError         unknown or duplicate name in a registry (router, workload source…)
     │    ├── ScenarioError         schema violations, YAML syntax, includes
     │    ├── FaultError            a fault selects nothing, or its timing falls outside the run (chaos.faults)
     │    ├── SweepError            a sweep file is malformed: axes, constraints, seeds, slo, budget (chaos.sweep)
     │    └── JournalError          a journal to report on is missing or unreadable (chaos.report)
     └── SimulationError            an internal invariant broke during a run (a bug, not user input)
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable


class FleetChaosError(Exception):
    """Root of every error fleetchaos raises on purpose."""


class InputError(FleetChaosError, ValueError):
    """The user's input is wrong. The message says where, which field, the bad value and what is allowed.

    `file`, `line` (1-based), `column` (1-based) and `field` (dotted path) are optional context that
    loaders fill in as they learn it; `str()` renders them as `file:line:col: field: message`.
    """

    def __init__(self, message: str, *, field: str | None = None, file: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.field = field
        self.file = file
        self.line = line
        self.column = column
        super().__init__(message)

    def located(self, *, field: str | None = None, file: str | None = None,
                line: int | None = None, column: int | None = None) -> "InputError":
        """Fill in location context that is not known yet (innermost knowledge wins); returns self."""
        if field and not self.field:
            self.field = field
        elif field and self.field and not self.field.startswith(field):
            self.field = f"{field}.{self.field}"
        self.file = self.file or file
        self.line = self.line or line
        self.column = self.column or column
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
                if self.column:
                    where += f":{self.column}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class UnitError(InputError):
    """A quantity with a unit ("30s", "400Gbps", "80GiB", "20/s") does not parse or has the wrong unit."""


class CatalogError(InputError):
    """Unknown GPU or model name, or a malformed catalog file."""


class TopologyError(InputError):
    """A fabric spec is malformed or names an element that does not exist."""


class PlacementError(InputError):
    """A deployment does not fit: not enough GPUs, a TP group larger than the fabric allows, or weights exceed HBM."""


class WorkloadError(InputError):
    """A trace file is missing or malformed, or synthetic workload parameters are out of range."""


class RegistryError(InputError):
    """An unknown name (lists the valid ones) or a duplicate registration in a registry."""


class ScenarioError(InputError):
    """A scenario file violates the schema, has a YAML syntax error, or a broken include."""


class SweepError(InputError):
    """A sweep file is malformed: an axis names no scenario field, a constraint does not parse, a bad seed list…"""


class SimulationError(FleetChaosError):
    """An internal invariant broke during a run: a bug in fleetchaos, not a user mistake."""


def did_you_mean(value: Any, allowed: Iterable[str]) -> str:
    """' (did you mean X?)' when `value` is close to one of `allowed`, else ''."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(value.lower(), [a.lower() for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def expected_one_of(value: Any, allowed: Iterable[str]) -> str:
    """Message body "expected one of a, b, c but got 'x' (did you mean a?)"."""
    allowed = sorted(allowed)
    return f"expected one of {', '.join(allowed)} but got {value!r}{did_you_mean(value, allowed)}"
