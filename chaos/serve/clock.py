"""The simulation clock tied to wall time, inside the server's asyncio loop.

simpy.rt.RealtimeEnvironment sleeps in its own `step()`, which would block the event loop that serves
the clients, and nothing could be submitted while it sleeps. This does the same on the loop instead:
simulated time is (wall seconds since start) x speed; a task runs every SimPy event that is due,
then sleeps until the next event or the next tick, whichever comes first, and is woken early when a
request or a fault is submitted. Before a submission, `catch_up()` brings the simulation to the
present, so the request arrives at the simulated "now". One thread, one loop: no locks.

Event-loop lag (how late the task woke against when it meant to) is recorded: it says whether the
server kept up with the simulation.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Callable

import simpy


class WallClock:
    """Drives `env` at `speed` simulated seconds per wall second; `on_tick()` runs after each wake."""

    def __init__(self, env: simpy.Environment, speed: float, tick_s: float = 0.02,
                 on_tick: Callable[[], None] | None = None) -> None:
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        self.env = env
        self.speed = float(speed)
        self.tick_s = float(tick_s)
        self.on_tick = on_tick
        self._t0: float | None = None
        self._sleep: asyncio.Future | None = None
        self._stopped = False
        self.lag_s: list[float] = []       # how late each wake came (wall seconds)
        self.max_lag_s = 0.0

    # ---- time ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._t0 = time.monotonic() - self.env.now / self.speed

    def sim_now(self) -> float:
        """Simulated time the wall clock says it is now."""
        return (time.monotonic() - self._t0) * self.speed

    def wall_of(self, sim_s: float) -> float:
        """time.monotonic() at which simulated time `sim_s` comes."""
        return self._t0 + sim_s / self.speed

    def catch_up(self) -> None:
        """Run every event due by now and move the simulation's clock to now."""
        target = self.sim_now()
        env = self.env
        if target > env.now:
            env.run(until=target)

    # ---- the driving task ------------------------------------------------------------------------
    def wake(self) -> None:
        fut = self._sleep
        if fut is not None and not fut.done():
            fut.set_result(True)

    def stop(self) -> None:
        self._stopped = True
        self.wake()

    def _step_due(self) -> None:
        """Run the events due by now (cheaper than run(until=...), which schedules a stop event)."""
        env, target = self.env, self.sim_now()
        step, peek = env.step, env.peek
        while peek() <= target:
            step()

    async def run(self) -> None:
        if self._t0 is None:
            self.start()
        loop = asyncio.get_running_loop()
        while not self._stopped:
            self._step_due()
            if self.on_tick is not None:
                self.on_tick()
            nxt = self.env.peek()
            wait = self.tick_s if math.isinf(nxt) else min(self.tick_s, max(0.0, self.wall_of(nxt) - time.monotonic()))
            planned = time.monotonic() + wait
            # a bare future and call_later: asyncio.wait_for would build a task per wake
            self._sleep = fut = loop.create_future()
            timer = loop.call_later(wait, _resolve, fut, False)
            woken = await fut
            timer.cancel()
            self._sleep = None
            if not woken:
                lag = max(0.0, time.monotonic() - planned)
                self.lag_s.append(lag)
                if len(self.lag_s) > 100_000:
                    del self.lag_s[:50_000]
                self.max_lag_s = max(self.max_lag_s, lag)

    def lag_stats(self) -> dict:
        """p50/p99/max event-loop lag in seconds over the recorded wakes."""
        if not self.lag_s:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0, "samples": 0}
        import numpy as np
        a = np.asarray(self.lag_s)
        return {"p50": float(np.quantile(a, 0.5)), "p99": float(np.quantile(a, 0.99)), "max": self.max_lag_s,
                "samples": len(a)}


def _resolve(fut: asyncio.Future, value: bool) -> None:
    if not fut.done():
        fut.set_result(value)
