"""`fleetchaos serve`: run the live fleet behind uvicorn, and on stop write the journal and report built
from what the clients experienced (their TTFT is when the first chunk left, their E2E when the last
did; a client that went away is a failed request "client disconnected"; one still open at the stop
is in flight)."""
from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_MAX_MODEL_LEN = 131_072      # Llama 3.1's context window (Meta model card); --max-model-len to change
DEFAULT_MAX_TOKENS = 256


def _missing_extra() -> ImportError:
    return ImportError("fleetchaos serve needs Starlette and uvicorn: pip install 'fleetchaos[serve]'")


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    speed: float = 1.0
    model_name: str | None = None
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    tick_s: float = 0.02
    duration_s: float | None = None          # stop after this much simulated time (None: until stopped)
    out: Path | None = None
    report: bool = True
    log_level: str = "warning"


@dataclass
class ServeResult:
    """What a stopped server leaves: its paths, the client-side run and the event-loop lag."""

    out: Path | None
    result: object
    lag: dict
    files: dict[str, Path] = field(default_factory=dict)


def _quiet_server(uvicorn):
    """uvicorn.Server that leaves SIGINT/SIGTERM to FleetServer: uvicorn would re-raise a captured Ctrl-C
    after shutting down, which cancels the task that writes the journal."""
    import contextlib

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):       # uvicorn >= 0.29
            yield

        def install_signal_handlers(self) -> None:    # older uvicorn
            pass
    return Server


class FleetServer:
    """One `fleetchaos serve`: `run()` in the foreground, or `start()`/`stop()` in a thread (tests)."""

    def __init__(self, scenario, options: ServeOptions, catalog=None) -> None:
        try:
            import starlette  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError:
            raise _missing_extra() from None
        self.scenario = scenario
        self.options = options
        self.catalog = catalog
        self.live = None
        self.port: int | None = None
        self.result: ServeResult | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.wall_s = 0.0

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    async def serve(self) -> ServeResult:
        import uvicorn

        from chaos.serve.app import build_app, install_log_filter
        from chaos.serve.fleet import LiveFleet

        opts = self.options
        self.live = LiveFleet(self.scenario, speed=opts.speed, catalog=self.catalog, tick_s=opts.tick_s)
        app = build_app(self.live, model_name=opts.model_name or self.scenario.deployment.model,
                        max_model_len=opts.max_model_len, default_max_tokens=opts.default_max_tokens)
        install_log_filter()
        config = uvicorn.Config(app, host=opts.host, port=opts.port, log_level=opts.log_level, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2, backlog=2048,
                                # longer than clients keep idle connections (httpx: 5 s), so a reused
                                # connection is never closed under a request that is being sent
                                timeout_keep_alive=75)
        self._server = _quiet_server(uvicorn)(config)
        if threading.current_thread() is threading.main_thread():
            import signal
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._request_stop)
        wall0 = time.perf_counter()
        self.live.clock.start()
        clock = asyncio.create_task(self.live.clock.run())
        watcher = asyncio.create_task(self._watch())
        try:
            await self._server.serve()
        finally:
            # also when uvicorn re-raises the Ctrl-C it captured: the journal is what the user stopped for
            watcher.cancel()
            self.live.clock.catch_up()
            self.live.clock.stop()
            await clock
            self.wall_s = time.perf_counter() - wall0
            self.result = self._finish()
        return self.result

    def _request_stop(self) -> None:
        self._server.should_exit = True

    async def _watch(self) -> None:
        """Note the bound port once up; stop at the simulated duration."""
        while not self._server.started:
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self._started.set()
        d = self.options.duration_s
        if d is not None:
            await asyncio.sleep(max(0.0, self.live.clock.wall_of(d) - time.monotonic()))
            self._server.should_exit = True

    def run(self) -> ServeResult:
        """Serve in the foreground until stopped (Ctrl-C, SIGTERM or the duration)."""
        try:
            asyncio.run(self.serve())
        except KeyboardInterrupt:
            if self.result is None:
                raise
        return self.result

    # ---- in a thread (tests, benchmarks) ------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> str:
        def target():
            try:
                asyncio.run(self.serve())
            except BaseException as exc:      # surfaced by start()/stop()
                self._error = exc
                self._started.set()
        self._thread = threading.Thread(target=target, name="fleetchaos-serve", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"fleetchaos serve did not start: {self._error!r}")
        return self.url

    def stop(self, timeout_s: float = 60.0) -> ServeResult:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._error is not None:
            raise self._error
        return self.result

    # ---- the journal of what clients experienced ------------------------------------------------------
    def _finish(self) -> ServeResult:
        from chaos.metrics import ItlSamples, RequestLog, summarize, time_series
        from chaos.metrics.tenants import tenant_series, tenant_summaries
        from chaos.sim.run import Result, tenant_infos

        live, sc = self.live, self.scenario
        horizon = float(live.env.now)
        streams = sorted([*live.finished, *live.active.values()], key=lambda s: s.rid)
        requests = live.driver.requests
        cols = {k: [] for k in ("id", "arrival_s", "first_token_s", "finish_s", "input_tokens", "output_tokens",
                                "generated_tokens", "status", "reason", "replica", "retries", "preemptions",
                                "prefix_hit_tokens", "tenant")}
        gaps, weights, times, gap_tenant = [], [], [], []
        for s in streams:
            req = requests.get(s.rid)
            status = {"completed": "completed", "rejected": "rejected", "failed": "failed",
                      "disconnected": "failed", "": "in_flight"}[s.client_status]
            cols["id"].append(s.rid)
            cols["arrival_s"].append(s.arrival_s)
            cols["first_token_s"].append(s.first_sent_s)
            cols["finish_s"].append(s.finish_s if s.client_status else math.nan)
            cols["input_tokens"].append(s.input_tokens)
            cols["output_tokens"].append(s.max_tokens)
            cols["generated_tokens"].append(s.sent)
            cols["status"].append(status)
            cols["reason"].append(s.client_reason or s.reason)
            cols["replica"].append(req.replica if req is not None else "")
            cols["retries"].append(req.retries if req is not None else 0)
            cols["preemptions"].append(req.preemptions if req is not None else 0)
            cols["prefix_hit_tokens"].append(req.prefix_hit_tokens if req is not None else 0)
            cols["tenant"].append(s.tenant)
            for (a, b), k in zip(zip(s.chunk_s, s.chunk_s[1:]), s.chunk_tokens[1:]):
                if k > 0:
                    gaps.append((b - a) / k)
                    weights.append(k)
                    times.append(b)
                    gap_tenant.append(s.tenant)
        cols["reason"] = np.array(cols["reason"], dtype=object)
        cols["replica"] = np.array(cols["replica"], dtype=object)
        log = RequestLog(**cols)
        itl = ItlSamples(np.asarray(gaps), np.asarray(weights, dtype=float), np.asarray(times))
        window_s = sc.metrics.window
        slo = sc.slo.to_slo() if sc.slo is not None else None
        summary = summarize(log, itl=itl, slo=slo, window=(0.0, horizon))
        series = time_series(log, window_s=window_s, t_end=max(horizon, window_s), slo=slo)
        lag = live.clock.lag_stats()
        stats = {"wall_s": self.wall_s, "sim_s": horizon, "requests": len(log), "router": live.wired.router.stats(),
                 "request_path": dict(live.driver.stats),
                 "serve": {"speed": self.options.speed, "wall_s": self.wall_s, "event_loop_lag_s": lag,
                           "live_faults": live.live_faults}}
        if live.driver.tenancy is not None:
            stats["tenancy"] = live.driver.tenancy.stats()
        tenants = tenant_infos(sc, slo)
        per_tenant = bool(getattr(sc, "tenants", None))
        tenant_itl = {}
        if per_tenant:            # the clients' gaps, by the tenant each stream belongs to
            tid = np.asarray(gap_tenant, dtype=np.int64)
            tenant_itl = {t.id: ItlSamples(itl.gaps_s[tid == t.id], itl.weights[tid == t.id], itl.t_s[tid == t.id])
                          for t in tenants}
        result = Result(scenario=sc, log=log, itl=itl, series=series, fleet_series=live.wired.fleet_series,
                        summary=summary, horizon_s=horizon, fleet=live.fleet, supervision=live.wired.supervision,
                        stats=stats, tenants=tenants, tenant_itl=tenant_itl,
                        tenant_summaries=tenant_summaries(log, tenants, (0.0, horizon), tenant_itl) if per_tenant else {},
                        tenant_series=tenant_series(log, tenants, window_s=window_s, t_end=max(horizon, window_s))
                        if per_tenant else {})
        out = self.options.out
        files: dict[str, Path] = {}
        if out is not None:
            files = write_outputs(result, out, report=self.options.report)
        return ServeResult(out, result, lag, files)


def write_outputs(result, out: Path, *, report: bool) -> dict[str, Path]:
    """journal.json, requests.csv and (with `report`) the report, as `fleetchaos run` writes them.
    The steady-state hypothesis is judged on the clients' log; probes against a baseline twin are
    left out (a live run has no twin)."""
    from chaos.metrics import RunData, evaluate_hypothesis
    from chaos.report.journal import write_journal
    from chaos.sim.experiment import Experiment, fault_windows

    sc = result.scenario
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    probes = [p for p in sc.steady_state if not p.relative]
    hypothesis = None
    if probes:
        slo = sc.slo.to_slo() if sc.slo is not None else None
        hypothesis = evaluate_hypothesis(probes, RunData.of(result), faults=fault_windows(result), slo=slo,
                                         settings=sc.hypothesis)
    experiment = Experiment(result, None, hypothesis, None)
    files = {"journal": write_journal(result, out / "journal.json", experiment)}
    serve = result.stats.get("serve")
    if serve:       # how the live run went: speed, wall time, event-loop lag (not part of a simulated run)
        journal = json.loads(files["journal"].read_text())
        journal["serve"] = serve
        files["journal"].write_text(json.dumps(journal, indent=1) + "\n")
    result.log.to_csv(out / "requests.csv")
    files["requests"] = out / "requests.csv"
    if report:
        from chaos.report import render_report
        written = render_report([files["journal"]], out)
        files["html"] = written.html
    return files
