"""The wall clock keeps simulated time at speed x wall time; `fleetchaos serve` refuses bad options with
exit 2 before binding anything."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import simpy
from typer.testing import CliRunner

from chaos.cli import app
from chaos.serve.clock import WallClock


def test_clock_follows_wall_time_at_speed():
    env = simpy.Environment()
    fired = []

    def proc():
        for _ in range(5):
            yield env.timeout(2.0)
            fired.append((env.now, time.monotonic()))
    env.process(proc())
    clock = WallClock(env, speed=40.0, tick_s=0.01)

    async def main():
        clock.start()
        task = asyncio.create_task(clock.run())
        t0 = time.monotonic()
        await asyncio.sleep(0.4)               # 0.4 s of wall time = 16 simulated seconds
        clock.stop()
        await task
        return t0
    t0 = asyncio.run(main())
    assert [t for t, _ in fired] == [2.0, 4.0, 6.0, 8.0, 10.0]
    # each event ran when the wall clock reached it (2 simulated s = 50 ms), not all at once
    walls = [w - t0 for _, w in fired]
    assert all(abs(w - t / 40.0) < 0.1 for (t, _), w in zip(fired, walls)), walls
    assert 14.0 <= clock.sim_now() <= 30.0
    with pytest.raises(ValueError, match="speed"):
        WallClock(env, speed=0)


@pytest.mark.parametrize("args,message", [
    (["--speed", "0"], "--speed: expected a positive speed"),
    (["--port", "70000"], "--port: expected a TCP port"),
    (["--duration", "soon"], "--duration"),
    (["--tick", "5s"], "--tick: expected a tick between 1ms and 1s"),
], ids=["speed", "port", "duration", "tick"])
def test_serve_bad_options_exit_2(args, message):
    res = CliRunner().invoke(app, ["serve", str(Path(__file__).resolve().parents[2] / "examples" / "fleet-small.yaml"),
                                    *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
