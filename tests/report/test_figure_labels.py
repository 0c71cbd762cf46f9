"""Fault labels never collide with the legend or with each other (issue #17 item 9)."""
from __future__ import annotations

from hypothesis import given, strategies as st

from chaos.report.figures.common import marker_rows


def test_close_faults_are_staggered_and_far_ones_share_the_top_row():
    assert marker_rows([600.0, 620.0, 640.0, 900.0], 1800.0) == [0, 1, 2, 0]


@given(st.lists(st.floats(0.0, 3600.0), min_size=1, max_size=6).map(sorted))
def test_markers_in_one_row_keep_their_distance_when_a_row_is_free(starts):
    rows = marker_rows(starts, 3600.0)
    assert len(rows) == len(starts) and all(0 <= r < 3 for r in rows)
    last: dict[int, float] = {}
    crowded = 0
    for x, r in zip(starts, rows):
        if r in last and x - last[r] < 0.035 * 3600.0:
            crowded += 1        # only when all three rows were taken within the gap
            assert sum(1 for k, v in last.items() if x - v < 0.035 * 3600.0) == 3
        last[r] = x


def test_labels_clear_the_legend_and_each_other(journals, tmp_path, monkeypatch):
    """The timeline and capacity figures of a run with six overlapping faults: every legend lies right
    of its axes, the six fault numbers are drawn, and no two numbers overlap on the canvas."""
    import json
    import shutil

    from chaos.report import style
    from chaos.report.figures import capacity, timeline
    from chaos.report.view import read_journal

    run_dir = tmp_path / "run"
    shutil.copytree(journals["gpu-crash"].parent, run_dir)
    j = json.loads((run_dir / "journal.json").read_text())
    template = j["faults"][0]
    j["faults"] = [{**template, "index": k, "cause": f"faults[{k}] gpu_crash", "start_s": 40.0 + 4.0 * k,
                    "end_s": 90.0 + 4.0 * k} for k in range(6)]
    (run_dir / "journal.json").write_text(json.dumps(j))
    run = read_journal(run_dir)
    figures = []

    def keep(fig, path):
        fig.canvas.draw()
        figures.append(fig)
        return path
    monkeypatch.setattr(style, "save", keep)
    for module in (timeline, capacity):
        module.draw(run, tmp_path / "x.png")
    for fig in figures:
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:
                assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
        numbers = [t for ax in fig.axes for t in ax.texts if t.get_text().isdigit()]
        assert sorted(t.get_text() for t in numbers) == [str(k) for k in range(1, 7)]
        boxes = [t.get_window_extent(renderer) for t in numbers]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
