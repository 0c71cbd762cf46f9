"""Parameter sweeps (DESIGN.md's `chaos/sweep/`): sweep files, points, executors (a local process pool,
Ray), the result store, Pareto fronts (quiet day and under faults), resilience curves with cliff
detection, and a recommendation. A point is a Scenario run through the public experiment API; this room
knows nothing of engine internals.
"""
from chaos.sweep.points import Point, PointRun, Sweep

__all__ = ["Point", "PointRun", "Sweep"]
