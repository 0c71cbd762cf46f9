"""Replay the full Mooncake conversation trace on 8 aggregated replicas; print speed and peak memory.

Usage: python benchmarks/bench_replay.py [--scenario examples/mooncake-8xh100.yaml] [--repeat 3]
       [--stepper fast|reference] [--set engine.backend=sglang] [--latency-table]
--latency-table writes a measured-style table (the vLLM profile's roofline x 1.1 on a grid) and runs
with latency: {table: ...}, to time the table source.
Prints wall seconds (median over repeats), simulated seconds per wall second, requests per wall
second and peak RSS. Trace: Qin et al., "Mooncake", FAST 2025 (Apache-2.0).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "examples" / "mooncake-8xh100.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stepper", choices=["fast", "reference"], default="fast")
    parser.add_argument("--set", action="append", default=[], help="scenario override KEY=VALUE (repeatable)")
    parser.add_argument("--latency-table", action="store_true", help="run with a measured-style latency table")
    args = parser.parse_args()

    from chaos.scenario import load_scenario
    from chaos.sim import run

    overrides = [f"engine.stepper={args.stepper}", *args.set]
    if args.latency_table:
        overrides.append(f"latency.table={_table()}")
    scenario = load_scenario(args.scenario, overrides=overrides)
    walls = []
    result = None
    for _ in range(args.repeat):
        result = None          # peak RSS is one run's, not two results alive at once
        t0 = time.perf_counter()
        result = run(scenario)
        walls.append(time.perf_counter() - t0)
    wall = statistics.median(walls)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    n = len(result.log.id)
    counts = result.log.counts()
    print(f"scenario            {scenario.name} (stepper {args.stepper})")
    print(f"requests            {n} ({counts['completed']} completed)")
    print(f"simulated           {result.horizon_s:.1f} s")
    print(f"wall (median of {len(walls)})  {wall:.2f} s   runs: {', '.join(f'{w:.2f}' for w in walls)}")
    print(f"sim s / wall s      {result.horizon_s / wall:.0f}")
    print(f"requests / wall s   {n / wall:.0f}")
    print(f"peak RSS            {peak_mb:.0f} MB")
    return 0


def _table() -> str:
    """A grid of the vLLM profile's Llama-3.1-8B H100 roofline x 1.1, written to a temporary CSV."""
    import tempfile

    from chaos.catalog import load_catalog
    from chaos.perf import build_perf_model
    from chaos.sim.backend import efficiency_of

    cat = load_catalog()
    roof = build_perf_model(cat.model("llama-3.1-8b"), cat.gpu("h100-sxm"), 1, 0.0, 0.0,
                            efficiency_of(cat.backend("vllm")))
    rows = ["tokens,context,latency_ms"]
    for t in (1, 4, 16, 64, 256, 1024, 4096, 8192):
        for c in (0, 4096, 32768, 131072, 524288, 2097152):
            rows.append(f"{t},{c},{1.1e3 * roof.iteration_time(t, c, 0):.6f}")
    path = Path(tempfile.mkdtemp()) / "measured.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
