"""The load heat map's bands: replicas that did not exist yet in a window (spares activated later)."""
from __future__ import annotations

import json
import warnings

import numpy as np

from chaos.report.figures import heatmap
from chaos.report.view import read_journal
from test_report_compare_scale import _large_journal


def test_a_band_with_no_replica_in_a_window_is_blank_and_warns_nothing(journals, tmp_path):
    """A band made only of spares activated mid-run has no value before they joined: NaN, and numpy's
    "Mean of empty slice" RuntimeWarning must not reach the user's terminal."""
    path = _large_journal(journals["gpu-crash"], tmp_path / "large")
    j = json.loads(path.read_text())
    load = j["fleet_series"]["replica_load"]
    n = len(j["fleet_series"]["t_s"])
    late = [f"aggregated-{i}" for i in range(252, 256)]          # the last band (256 replicas, 6 per band)
    for rid in late:
        load[rid] = [None] * (n // 2) + [4.0] * (n - n // 2)
    load["aggregated-249"] = [None] * 3 + load["aggregated-249"][3:]    # one absent member among present ones
    path.write_text(json.dumps(j))
    run = read_journal(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mat, labels, members = heatmap.rows(run)
        heatmap.draw(run, tmp_path / "load.png")
    last = members.index(late)
    assert np.all(np.isnan(mat[last, : n // 2])) and np.all(mat[last, n // 2:] == 4.0)
    band = next(k for k, m in enumerate(members) if "aggregated-249" in m)
    others = [np.asarray(load[r], dtype=float) for r in members[band] if r != "aggregated-249"]
    assert np.allclose(mat[band, :3], np.mean(others, axis=0)[:3])    # the mean of those present


def test_a_repair_due_after_the_horizon_does_not_stretch_the_time_axis():
    """A 6-minute run whose random failures' repairs fell 17-242 minutes in drew its figures over
    250 minutes: fault windows are clipped to the run."""
    from chaos.report.figures.common import fault_span
    from chaos.report.view import Fault

    def fault(start, end, permanent=False):
        return Fault(type="gpu_crash", cause="", start_s=start, end_s=end, permanent=permanent, target_kind="gpu",
                     targets=(), replicas_lost=(), replicas_degraded=(), detail="")

    assert fault_span(fault(60.0, 14_520.0), 360.0) == (60.0, 360.0)
    assert fault_span(fault(60.0, 120.0), 360.0) == (60.0, 120.0)
    assert fault_span(fault(60.0, None, permanent=True), 360.0) == (60.0, 360.0)
