"""Parameter sweeps, executors, Pareto fronts and resilience curves (DESIGN.md's `chaos/sweep/`).

Not built yet: no issue has asked for it so far. Until then, sweep with `--set` overrides in a shell
loop or with `@pytest.mark.scenario(..., matrix={...})`, and compare runs with `fleetchaos report`.
"""


def __getattr__(name: str):
    raise NotImplementedError(f"chaos.sweep.{name}: parameter sweeps are not built yet; use --set overrides "
                              f"or @pytest.mark.scenario(matrix=...) and `fleetchaos report` to compare runs")
