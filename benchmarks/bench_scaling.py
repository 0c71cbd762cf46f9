"""Per-request cost against replica count: the same load per replica on fleets of 14, 62 and 126 replicas.

Usage: python benchmarks/bench_scaling.py [--gpus 128,512,1024] [--minutes 5] [--repeat 3]
       [--acceleration 5000] [--profile-gpus 1024 --profile out.prof]

Issue #12 asks that a simulated run cost "linear in requests + faults, independent of the replica count
per request". This runs bench_fleet.py's scenario (TP8 Llama-3.1-70B on H100s, power_of_two with
health checks, outlier ejection and retries, random_failures + failover_spare + restart) at several
fleet sizes with the arrival rate scaled to the replica count (the issue's 100 req/s over 126
replicas, i.e. ~0.79 req/s per replica) and the same length distributions, so every replica sees the
same traffic and only the fleet's width changes. random_failures' rate is per GPU, so faults per
request stay constant too (accelerated so a short slice has a few).

For each size it prints CPU seconds per 1,000 requests (median of --repeat runs, each `run()` of the
faulted scenario in this process, `time.process_time`, less the run's setup: wiring the fabric graph,
placements, router and supervision, a once-per-run cost that grows with the fleet) and, from one extra counting run, what each
request costs in events: SimPy events processed, scheduler iterations begun, decode stretches priced,
router picks. Flat columns across sizes mean the per-request cost does not depend on the fleet's width.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fleet import ROOT, scenario_text  # noqa: E402

RATE_PER_REPLICA = 100.0 / 126.0   # the 100 req/s on 126 TP8 replicas


def replicas_of(gpus: int) -> int:
    groups = gpus // 8
    return groups - (2 if groups > 4 else 1)


def build(gpus: int, minutes: float, acceleration: float):
    from chaos.scenario import load_scenario_text
    rate = RATE_PER_REPLICA * replicas_of(gpus)
    text = scenario_text(gpus, minutes / 60.0, rate, acceleration or 1.0)
    if not acceleration:        # 0 = no faults: the request path alone
        head, _, tail = text.partition("faults:\n")
        text = head + "faults: []\n" + tail.split("\n", 1)[1]
    return load_scenario_text(text, base_dir=ROOT)


def counted_run(sc) -> dict:
    """One run with counters wrapped around the hot entry points (slower; counts only)."""
    import simpy

    from chaos.engine.scheduler import Scheduler
    from chaos.perf.latency import PerfModel
    from chaos.routing.resilience import ResilientRouter
    from chaos.sim import run

    counts = {"simpy events": 0, "iterations": 0, "decode stretches": 0, "router picks": 0}
    patched = [(simpy.Environment, "step", "simpy events"), (Scheduler, "_begin", "iterations"),
               (PerfModel, "decode_stretch", "decode stretches"), (ResilientRouter, "pick", "router picks")]
    saved = []
    for cls, name, key in patched:
        orig = getattr(cls, name)
        saved.append((cls, name, orig))

        def wrapper(*a, __orig=orig, __key=key, **kw):
            counts[__key] += 1
            return __orig(*a, **kw)
        setattr(cls, name, wrapper)
    try:
        result = run(sc)
    finally:
        for cls, name, orig in saved:
            setattr(cls, name, orig)
    counts["requests"] = len(result.log)
    counts["faults"] = len(result.supervision.planned) if result.supervision is not None else 0
    return counts


_setup_cpu: list[float] = []


def _time_setup() -> None:
    """Record the CPU seconds of wiring each run (fabric graph, placement, router, supervision): a
    once-per-run cost that grows with the fleet, kept apart from the per-request figure."""
    import importlib
    run_mod = importlib.import_module("chaos.sim.run")
    assemble = run_mod.assemble

    def timed(*a, **kw):
        c0 = time.process_time()
        try:
            return assemble(*a, **kw)
        finally:
            _setup_cpu.append(time.process_time() - c0)
    run_mod.assemble = timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", default="128,512,1024", help="fleet sizes, multiples of 64 (comma-separated)")
    parser.add_argument("--minutes", type=float, default=5.0, help="simulated minutes per run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median printed)")
    parser.add_argument("--acceleration", type=float, default=5000.0, help="random_failures acceleration (0: no faults)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile one run of --profile-gpus into FILE")
    parser.add_argument("--profile-gpus", type=int, default=1024)
    args = parser.parse_args()

    from chaos.sim import run
    _time_setup()

    if args.profile:
        import cProfile
        sc = build(args.profile_gpus, args.minutes, args.acceleration)
        cProfile.runctx("run(sc)", globals(), {"run": run, "sc": sc}, args.profile)
        print(f"profile of {args.profile_gpus} GPUs written to {args.profile}")
        return 0

    sizes = [int(g) for g in args.gpus.split(",")]
    rows = []
    for gpus in sizes:
        sc = build(gpus, args.minutes, args.acceleration)
        cpu, loads, setup = [], [], []
        n = 0
        for _ in range(args.repeat):
            c0 = time.process_time()
            result = run(sc)
            cpu.append(time.process_time() - c0)
            setup.append(_setup_cpu[-1])
            loads.append(os.getloadavg()[0])
            n = len(result.log)
            del result
        counts = counted_run(sc)
        med = statistics.median(cpu)
        wired = statistics.median(setup)
        rows.append((gpus, replicas_of(gpus), n, counts["faults"], med, cpu, counts, max(loads), wired))
        print(f"{gpus} GPUs ({replicas_of(gpus)} replicas): {n} requests, {counts['faults']} faults, "
              f"CPU {', '.join(f'{c:.2f}' for c in cpu)} s (setup {wired:.2f} s) -> "
              f"{1000 * (med - wired) / n:.3f} s per 1,000 requests (load {max(loads):.1f})", flush=True)

    print()
    print("| GPUs | replicas | requests | faults | CPU s (runs) | setup CPU s | CPU s / 1,000 req (run - setup) "
          "| SimPy events / req | iterations / req | decode stretches / req | router picks / req | load avg |")
    print("| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for gpus, reps, n, faults, med, cpu, c, load, wired in rows:
        per = {k: c[k] / c["requests"] for k in ("simpy events", "iterations", "decode stretches", "router picks")}
        print(f"| {gpus} | {reps} | {n:,} | {faults} | {', '.join(f'{x:.2f}' for x in cpu)} | {wired:.2f} | "
              f"{1000 * (med - wired) / n:.3f} | {per['simpy events']:.2f} | {per['iterations']:.2f} | "
              f"{per['decode stretches']:.2f} | {per['router picks']:.2f} | {load:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
