"""Spilling a long run's finished data to disk: append-only column files, memory-mapped when read.

A long run (a 24-simulated-hour soak, a 10^6-request replay) would otherwise keep every finished
request's row and every closed ITL window in RSS until the end. With spilling, full chunks go to
anonymous temporary files (unlinked at creation, so nothing is left behind even if the process dies;
`TMPDIR` chooses the disk) and the final arrays are np.memmap views of them: the analysis reads them
page by page and the kernel may drop those pages again, instead of holding them in the heap.

`metrics.spill` chooses: "off" keeps everything in memory (as before), "on" spills from the first full
chunk, "auto" (the default) spills once a run has passed AUTO_ROWS finished requests, so short runs
and tests never touch the disk. Values are the same either way (byte-identical request logs and
ITL samples); only where the bytes live changes.
"""
from __future__ import annotations

import tempfile
from typing import Iterable

import numpy as np

MODES = ("auto", "on", "off")

AUTO_ROWS = 200_000
"""Under `spill: auto`, the request log starts spilling after this many finished requests (~20 MB of
rows): a fleet-hour at 100 req/s spills, a test scenario never does."""

CHUNK_ROWS = 65_536
"""Rows per spilled chunk of the request log (~6.5 MB): big writes, a bounded in-memory tail."""


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"spill mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def spilling(mode: str, rows: int) -> bool:
    """Whether a store holding `rows` rows should write its full chunks to disk under `mode`."""
    return mode == "on" or (mode == "auto" and rows >= AUTO_ROWS)   # read at call time: tests lower it


class ColumnFile:
    """One append-only column of a fixed dtype in an anonymous temporary file."""

    __slots__ = ("dtype", "rows", "_fh")

    def __init__(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._fh = tempfile.TemporaryFile(prefix="fleetchaos-spill-")

    def append(self, values) -> None:
        """Write `values` (anything np.asarray turns into this dtype) at the end."""
        arr = np.ascontiguousarray(values, dtype=self.dtype)
        self._fh.write(arr.tobytes())
        self.rows += len(arr)

    def map(self) -> np.ndarray:
        """A read-only memory-mapped view of everything written (empty array when nothing was)."""
        if self.rows == 0:
            return np.empty(0, dtype=self.dtype)
        self._fh.flush()
        return np.memmap(self._fh, dtype=self.dtype, mode="r", shape=(self.rows,))


def mapped_array(parts: Iterable[np.ndarray], dtype, index: np.ndarray | None = None) -> np.ndarray:
    """concatenate(parts)[index] (or the whole concatenation), written to a new temporary file and
    returned memory-mapped: the result of a spilled column without holding a second copy in RSS."""
    parts = [np.asarray(p) for p in parts]
    n = len(index) if index is not None else sum(len(p) for p in parts)
    if n == 0:
        return np.empty(0, dtype=dtype)
    out = np.memmap(tempfile.TemporaryFile(prefix="fleetchaos-spill-"), dtype=dtype, mode="w+", shape=(n,))
    if index is None:
        start = 0
        for p in parts:
            out[start:start + len(p)] = p
            start += len(p)
    else:
        whole = parts[0] if len(parts) == 1 else np.concatenate(parts)
        out[:] = whole[index]
    out.flush()
    return out
