"""A fleet-scale chaos experiment: 1,024 H100s, an hour of traffic, random failures, and its twin.

Usage: python benchmarks/bench_fleet.py [--gpus 1024] [--hours 1] [--rate 100] [--repeat 1]
       [--no-parallel] [--no-report] [--profile out.prof]
       python benchmarks/bench_fleet.py --soak        (128 GPUs for 24 simulated hours; RSS per hour)

The scenario is the one of issue #12: 16 racks x 8 hosts x 8 H100 SXM (NVLink per host, 400 Gb/s NIC
per GPU), Llama-3.1-70B as TP8 replicas (126 + 2 spares on 1,024 GPUs), Poisson arrivals at 100
requests/s per 1,024 GPUs (scaled with --gpus) with lognormal lengths, power_of_two routing with health
checks, outlier ejection and retries, random_failures (Llama 3 report rates) accelerated 500x,
failover_spare + restart. Prints wall seconds per simulated run and for the whole experiment (both
runs, steady-state and resilience analysis, journal and report), requests per wall second and peak
RSS (this process and, when the twin runs in a second process, its children).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """
name: bench-fleet-{gpus}
seed: 12
duration: {duration_s}s
topology:
  gpu: h100-sxm
  racks: {racks}
  hosts_per_rack: 8
  gpus_per_host: 8
  scale_out: {{nic_bandwidth: 400Gbps, spines: 8}}
deployment: {{model: llama-3.1-70b, replicas: {replicas}, tp: 8, spares: {spares}}}
engine: {{max_num_seqs: 256, max_num_batched_tokens: 8192, block_size: 16, prefix_cache: false}}
workload:
  synthetic:
    arrival: poisson
    rate: {rate}/s
    input: {{dist: lognormal, median: 2000, sigma: 0.8, max: 32000}}
    output: {{dist: lognormal, median: 300, sigma: 0.7, max: 4000}}
router:
  policy: power_of_two
  health: {{interval: 5s, timeout: 2s, failures: 2}}
  watchdog: {{stall_after: 30s}}
  outlier: {{consecutive_errors: 3, ejection_time: 30s}}
  retries: 3
recovery: {{requests: migrate}}
controller: {{policy: [failover_spare, restart], model_load_time: 90s, restart_time: 60s}}
faults:
  - {{type: random_failures, acceleration: {acceleration}, repair: {{gpu: 15m, host: 20m}}}}
slo: {{ttft_p99: 5s, tpot_p99: 100ms}}
metrics: {{window: 10s}}
steady_state:
  - {{probe: ttft_p99, window: 1m, max: 5s, phases: [before, after]}}
  - {{probe: throughput_tok_s, window: 1m, min_ratio_to_baseline: 0.5, phases: [during]}}
  - {{probe: requests_lost, max: 0}}
"""


def scenario_text(gpus: int, hours: float, rate: float | None, acceleration: float) -> str:
    if gpus % 64:
        raise SystemExit(f"--gpus must be a multiple of 64 (racks of 8 hosts x 8 GPUs), got {gpus}")
    racks = gpus // 64
    groups = gpus // 8
    spares = 2 if groups > 4 else 1
    replicas = groups - spares
    if rate is None:
        rate = 100.0 * gpus / 1024          # the 100 req/s on 1,024 GPUs, scaled with the fleet
    return SCENARIO.format(gpus=gpus, duration_s=int(hours * 3600), racks=racks, replicas=replicas,
                           spares=spares, rate=rate, acceleration=acceleration)


def rss_mb() -> float:
    """Current resident set size of this process, MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> tuple[float, float]:
    """(peak RSS of this process, peak RSS of the largest child process), MB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)


def experiment_once(sc, *, report: bool, parallel: bool | None) -> dict:
    from chaos.report import render_report
    from chaos.report.journal import write_journal
    from chaos.sim.experiment import run_experiment

    t0 = time.perf_counter()
    kwargs = {} if parallel is None else {"parallel": parallel}
    exp = run_experiment(sc, **kwargs)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_journal(exp.result, out / "journal.json", exp)
        if report:
            render_report([out / "journal.json"], out)
    wall = time.perf_counter() - t0
    runs = [exp.result] + ([exp.baseline] if exp.baseline is not None else [])
    return {
        "wall_s": wall, "sim_and_analysis_s": t_sim, "report_s": wall - t_sim,
        "run_wall_s": [r.stats["wall_s"] for r in runs],
        "run_cpu_s": [r.stats.get("cpu_s", float("nan")) for r in runs],
        "requests": [len(r.log) for r in runs],
        "counts": exp.result.log.counts(),
        "verdict": exp.verdict,
        "faults": len(exp.result.supervision.planned) if exp.result.supervision is not None else 0,
        "score": exp.resilience.score.score if exp.resilience is not None else None,
        "horizon_s": exp.result.horizon_s,
    }


def soak(args) -> int:
    """One faulted run of a 128-GPU fleet for 24 simulated hours, RSS sampled every simulated hour."""
    from chaos.scenario import load_scenario_text
    from chaos.sim import run

    sc = load_scenario_text(scenario_text(args.gpus or 128, args.hours or 24.0, args.rate, args.acceleration),
                            base_dir=ROOT)
    samples: dict[int, float] = {}

    def progress(now_s: float, end_s: float) -> None:
        hour = int(now_s // 3600)
        if hour not in samples:
            samples[hour] = rss_mb()
    t0 = time.perf_counter()
    result = run(sc, progress=progress)
    wall = time.perf_counter() - t0
    samples[int(result.horizon_s // 3600)] = rss_mb()
    print(f"soak                {sc.name}: {result.horizon_s / 3600:.0f} simulated hours, "
          f"{len(result.log)} requests, {result.log.counts()}")
    print(f"wall                {wall:.1f} s   requests / wall s {len(result.log) / wall:.0f}")
    print("RSS by sim hour     " + ", ".join(f"h{h}: {mb:.0f}" for h, mb in sorted(samples.items())))
    if 2 in samples:
        last = max(samples)
        print(f"RSS h{last} / h2        {samples[last] / samples[2]:.3f}")
    print(f"peak RSS            {peak_mb()[0]:.0f} MB")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=None, help="fleet size, a multiple of 64 (default 1024; 128 with --soak)")
    parser.add_argument("--hours", type=float, default=None, help="simulated hours (default 1; 24 with --soak)")
    parser.add_argument("--rate", type=float, default=None, help="requests/s (default 100 per 1,024 GPUs)")
    parser.add_argument("--acceleration", type=float, default=500.0, help="random_failures acceleration")
    parser.add_argument("--repeat", type=int, default=1, help="experiments to run (median wall is printed)")
    parser.add_argument("--no-report", action="store_true", help="skip rendering report.html/figures")
    parser.add_argument("--parallel", dest="parallel", action="store_true", default=None,
                        help="run the twin in a second process (default: the scenario's setting)")
    parser.add_argument("--no-parallel", dest="parallel", action="store_false",
                        help="run the twin after the faulted run, in this process")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the experiment into FILE (serial runs)")
    parser.add_argument("--soak", action="store_true", help="24 h on 128 GPUs, one run, RSS every simulated hour")
    args = parser.parse_args()
    if args.soak:
        return soak(args)

    from chaos.scenario import load_scenario_text

    gpus, hours = args.gpus or 1024, args.hours or 1.0
    sc = load_scenario_text(scenario_text(gpus, hours, args.rate, args.acceleration), base_dir=ROOT)
    outs = []
    for _ in range(args.repeat):
        if args.profile:
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
            outs.append(experiment_once(sc, report=not args.no_report, parallel=args.parallel))
            prof.disable()
            prof.dump_stats(args.profile)
        else:
            outs.append(experiment_once(sc, report=not args.no_report, parallel=args.parallel))
    last = outs[-1]
    wall = statistics.median(o["wall_s"] for o in outs)
    n_total = sum(last["requests"])
    self_mb, child_mb = peak_mb()
    print(f"scenario            {sc.name}: {gpus} GPUs, {hours:g} h, "
          f"{len(sc.faults)} fault process(es) -> {last['faults']} faults planned")
    print(f"requests            faulted {last['requests'][0]}"
          + (f", twin {last['requests'][1]}" if len(last["requests"]) > 1 else "") + f"; faulted run {last['counts']}")
    print(f"verdict             {last['verdict']}   resilience score {last['score']:.1f}")
    print("wall per run        " + ", ".join(f"{w:.1f} s" for w in last["run_wall_s"])
          + "   (faulted, twin); CPU " + ", ".join(f"{c:.1f} s" for c in last["run_cpu_s"]))
    walls = ", ".join(f"{o['wall_s']:.1f}" for o in outs)
    print(f"experiment wall     {wall:.1f} s (median of {len(outs)}: {walls}); "
          f"simulation + analysis {last['sim_and_analysis_s']:.1f} s, journal + report {last['report_s']:.1f} s")
    print(f"requests / wall s   {n_total / wall:.0f} (both runs' requests over the experiment's wall)")
    print(f"peak RSS            {self_mb:.0f} MB (this process)"
          + (f", {child_mb:.0f} MB (largest child)" if child_mb > 0 else ""))
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"CPU (all runs)      {me.ru_utime + me.ru_stime:.1f} s this process + "
          f"{kids.ru_utime + kids.ru_stime:.1f} s children (steadier than wall on a shared machine)")
    print(f"load average        {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
