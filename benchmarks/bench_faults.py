"""Per-fault cost on bench_fleet's 1,024-GPU fleet: planning random_failures, then failing and repairing
the planned hardware on the live fleet (blast radius, ring status, re-pricing every serving replica).

Usage: python benchmarks/bench_faults.py [--gpus 1024] [--acceleration 5000] [--faults 60]
Prints CPU ms per planned hardware fault and per fail_element / repair_element (the run's own work
around a fault, without simulated time passing). Issue #12 round 3: these were O(fleet) per fault.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_fleet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=1024, help="fleet size, a multiple of 64")
    parser.add_argument("--acceleration", type=float, default=5000.0, help="random_failures acceleration")
    parser.add_argument("--faults", type=int, default=60, help="planned hardware faults to fail and repair")
    args = parser.parse_args()

    import simpy

    from chaos.scenario import load_scenario_text
    from chaos.sim.run import assemble
    from chaos.sim.supervision import plan_faults
    from chaos.workload.tenants import build_tenant_workload

    sc = load_scenario_text(bench_fleet.scenario_text(args.gpus, 1.0, None, args.acceleration), base_dir=ROOT)
    env = simpy.Environment()
    workload = build_tenant_workload(sc.workload, None, seed=sc.seed, base_dir=sc.base_dir, duration_s=60.0)
    fleet = assemble(sc, env, workload, sc.duration).fleet     # wired, not run: only the fault work is timed
    c0 = time.process_time()
    planned = plan_faults(sc, fleet)
    c1 = time.process_time()
    hardware = [pf for pf in planned if pf.target_kind != "replica"]
    print(f"plan       {len(planned)} faults ({len(hardware)} hardware): {c1 - c0:.3f} CPU s, "
          f"{1e3 * (c1 - c0) / max(1, len(hardware)):.2f} ms per hardware fault")
    elements = [pf.targets[0] for pf in hardware][:args.faults]
    if not elements:
        return 0
    c0 = time.process_time()
    for element in elements:
        fleet.fail_element(element, "bench")
    c1 = time.process_time()
    for element in reversed(elements):
        fleet.repair_element(element, "bench")
    c2 = time.process_time()
    print(f"live       {len(elements)} faults: fail_element {1e3 * (c1 - c0) / len(elements):.2f} ms, "
          f"repair_element {1e3 * (c2 - c1) / len(elements):.2f} ms (CPU, each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
