"""How a run's requests arrive: a callback chain that plays arrival rows into the driver on the
virtual clock (no SimPy process), and the dense id set the driver marks requests in."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.engine.events import UrgentTimeout

if TYPE_CHECKING:
    from chaos.sim.driver import Driver


class ArrivalChain:
    """Plays arrival rows (id, t, input, output, hash ids, tenant), sorted by t, into the driver: one
    URGENT timeout per distinct arrival time whose callback admits the row, not a SimPy process
    resumed by it. The events are those a process yielding `UrgentTimeout(t - now)` per row would
    schedule, in the same order (a zero-delay URGENT start where env.process put its Initialize),
    so same-time order (engine/events.py) is unchanged; only the process's machinery is gone."""

    __slots__ = ("_driver", "_rows", "_due", "_fire_cb")

    def __init__(self, driver: "Driver", rows) -> None:
        self._driver = driver
        self._rows = rows
        self._due: tuple | None = None
        self._fire_cb = self._fire
        UrgentTimeout(driver.env, 0.0).callbacks.append(self._start)

    def _start(self, _event) -> None:
        self._play()

    def _fire(self, _event) -> None:
        driver, row, self._due = self._driver, self._due, None
        driver.arrive(driver._make_request(*row))
        self._play()

    def _play(self) -> None:
        """Admit the rows due now; schedule the wake-up for the first later one."""
        driver = self._driver
        env = driver.env
        for row in self._rows:
            t = row[1]
            if t > env.now:
                self._due = row
                UrgentTimeout(env, t - env.now).callbacks.append(self._fire_cb)
                return
            driver.arrive(driver._make_request(*row))


class IdSet:
    """A set of a run's request ids (dense from 0) as one byte per id, not a Python int in a hash set."""

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, rid: int) -> None:
        if rid >= len(self._bits):
            self._bits.extend(bytes(max(rid + 1 - len(self._bits), len(self._bits) // 2 + 1024)))
        self._bits[rid] = 1

    def __contains__(self, rid: int) -> bool:
        return rid < len(self._bits) and self._bits[rid] == 1
