"""Replay the full Mooncake conversation trace on 8 aggregated replicas; print speed and peak memory.

Usage: python benchmarks/bench_replay.py [--scenario examples/mooncake-8xh100.yaml] [--repeat 3]
       [--stepper fast|reference]
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
    args = parser.parse_args()

    from chaos.scenario import load_scenario
    from chaos.sim import run

    scenario = load_scenario(args.scenario, overrides=[f"engine.stepper={args.stepper}"])
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


if __name__ == "__main__":
    sys.exit(main())
