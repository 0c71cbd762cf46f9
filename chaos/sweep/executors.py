"""Executors only distribute: each takes the tasks still to run and calls `on_done(outcome, timing)` in the
calling process as each finishes (which is where the store writes it). Registered by name like every
pluggable kind, so `--executor` and `fleetchaos list executors` show the same set.

- `local`: a process pool on this machine (`workers`, default the machine's cores; 1 runs in-process).
- `ray`: Ray tasks (`pip install 'fleetchaos[ray]'`); `address` joins a running cluster (whose nodes have
  fleetchaos installed), none starts a local one for the sweep and stops it afterwards. Ray schedules.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol, Sequence

from chaos.errors import InputError
from chaos.forked import usable_cores
from chaos.registry import Registry
from chaos.sweep.outcome import Task, run_task

OnDone = Callable[[dict, dict], None]


class Executor(Protocol):
    """Runs every task and reports each outcome as it finishes."""

    def run(self, tasks: Sequence[Task], on_done: OnDone) -> None: ...


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")


def default_workers() -> int:
    """The cores this process may use."""
    return usable_cores()


@EXECUTORS.register("local")
class LocalExecutor:
    """A process pool on this machine (`--workers`, default the machine's cores)."""

    def __init__(self, workers: Optional[int] = None, address: Optional[str] = None) -> None:
        if address is not None:
            raise InputError("--address joins a Ray cluster; it needs --executor ray", field="address")
        if workers is not None and workers < 1:
            raise InputError(f"--workers: expected a whole number >= 1 but got {workers}", field="workers")
        self.workers = workers or default_workers()

    def run(self, tasks: Sequence[Task], on_done: OnDone) -> None:
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            for task in tasks:
                on_done(*run_task(task))
            return
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)))
        try:
            pending = {pool.submit(run_task, t) for t in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=id):
                    on_done(*fut.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


@EXECUTORS.register("ray")
class RayExecutor:
    """Ray tasks on a cluster (`--address`) or on a local Ray started for the sweep."""

    def __init__(self, workers: Optional[int] = None, address: Optional[str] = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError("the ray executor needs Ray: pip install 'fleetchaos[ray]'", field="executor") from None
        if workers is not None and workers < 1:
            raise InputError(f"--workers: expected a whole number >= 1 but got {workers}", field="workers")
        self.workers = workers
        self.address = address

    def run(self, tasks: Sequence[Task], on_done: OnDone) -> None:
        import ray

        started = not ray.is_initialized()
        if started:
            kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.address:
                kwargs["address"] = self.address
            elif self.workers:
                kwargs["num_cpus"] = self.workers
            try:
                ray.init(**kwargs)
            except ConnectionError as exc:
                raise InputError(f"cannot join the Ray cluster at {self.address!r}: {exc}", field="address") from None
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
            pending = [remote.remote(t) for t in tasks]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    on_done(*ray.get(ref))
        finally:
            if started:
                ray.shutdown()
