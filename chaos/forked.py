"""One call in a forked child process, its return value (or exception) sent back pickled.

The experiment runs its fault-free twin this way while the faulted run goes on here, and the report
draws half of its figures in a child while this process draws the rest. Fork (Linux) keeps the
interpreter's state and hash seed, so the child computes exactly what this process would.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import traceback
from typing import Any, Callable

from chaos.errors import SimulationError


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, so `taskset -c 0` counts as one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):           # not Linux
        return max(1, os.cpu_count() or 1)


def can_fork_in_parallel() -> bool:
    """Two usable cores and the fork start method: a forked child runs beside this process."""
    return usable_cores() >= 2 and "fork" in multiprocessing.get_all_start_methods()


def _child(conn, fn: Callable[..., Any], args: tuple) -> None:
    try:
        payload = pickle.dumps(("ok", fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:                # noqa: BLE001 - the parent re-raises it
        try:
            payload = pickle.dumps(("error", exc))
        except Exception:                       # an unpicklable exception: send its text
            payload = pickle.dumps(("error", SimulationError(traceback.format_exc())))
    conn.send_bytes(payload)
    conn.close()


class ForkedCall:
    """`fn(*args)` running in a forked child from construction; `result()` waits for its value."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "fleetchaos-child",
                 died: str = "run it in this process instead") -> None:
        ctx = multiprocessing.get_context("fork")
        self._died = died
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(child_conn, fn, args), daemon=True, name=name)
        self._proc.start()
        child_conn.close()

    def result(self) -> Any:
        """The child's return value; its exception is raised here. SimulationError when it died."""
        try:
            status, value = pickle.loads(self._conn.recv_bytes())
        except EOFError:
            self._proc.join()
            raise SimulationError(f"the {self._proc.name} process died (exit code {self._proc.exitcode}), "
                                  f"perhaps out of memory; {self._died}") from None
        finally:
            self._conn.close()
        self._proc.join()
        if status == "error":
            raise value
        return value

    def cancel(self) -> None:
        """Stop the child (its result is not wanted)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._conn.close()
