"""ITL samples: compaction into (window, gap) bins keeps the distribution."""
import numpy as np

from chaos.metrics.quantile import ItlSamples, weighted_quantile



def test_compact_itl_keeps_the_distribution_to_the_resolution_and_every_token():
    rng = np.random.default_rng(4)
    gaps = 0.008 + rng.integers(0, 400, 200_000) * 1e-5 + rng.uniform(0, 4e-7, 200_000)  # engine-like: few distinct
    weights = rng.integers(1, 64, 200_000)
    t = np.sort(rng.uniform(0, 600, 200_000))
    full = ItlSamples(gaps, weights, t)
    small = full.compact(window_s=10.0)
    assert len(small.gaps_s) < len(gaps) / 4
    assert small.weights.sum() == weights.sum()
    for q in (0.5, 0.9, 0.99):
        assert abs(weighted_quantile(small.gaps_s, small.weights, q) - weighted_quantile(gaps, weights, q)) <= 1e-6
    # a window-aligned span keeps exactly the tokens of that span
    in_span = (t >= 100) & (t < 200)
    kept = (small.t_s >= 100) & (small.t_s < 200)
    assert small.weights[kept].sum() == weights[in_span].sum()
