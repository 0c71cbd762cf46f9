"""Named random streams from one seed (DESIGN principle 6).

Each purpose ("arrivals", "lengths", "routing", "faults"…) gets its own generator derived from the
run's seed and the stream's name, so adding or removing draws in one stream never shifts another:
a faulted run and its fault-free twin see the same arrivals.
"""
from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """A generator for the named purpose; same (seed, name) gives the same sequence in any process."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode("utf-8"))])
