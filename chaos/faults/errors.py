"""The faults room's input error.

`FaultError` sits under `InputError` next to TopologyError (see the tree in chaos/errors.py): a fault
list that validates on its own but does not fit this run — an empty selection, a timing after the
end of the run, a process that needs a horizon. Unknown element or replica ids raise TopologyError.
"""
from __future__ import annotations

from chaos.errors import InputError


class FaultError(InputError):
    """A fault does not fit the run: empty selection, timing outside the run, or a missing horizon."""
