"""Shared link capacity in whole runs (issue 16.6): losing a spine slows the all-reduce rings that cross
racks, and KV fan-in slows transfers."""
from __future__ import annotations

import numpy as np

from chaos.scenario import load_scenario_text
from chaos.sim import run

from sim_scenarios import scenario_text

FOUR_RACKS = {"name": "4x1", "gpu": "h100-sxm", "racks": 4, "hosts_per_rack": 1, "gpus_per_host": 8,
              "nvlink_domain": "host", "scale_out": {"nic_bandwidth": "400Gbps", "spines": 2}}


def run_text(text, tmp_path):
    return run(load_scenario_text(text, "test.yaml", tmp_path))


def test_losing_a_spine_slows_tp16_across_racks(tmp_path):
    """The issue's case: 4 racks x 1 host, spines: 2, TP16 across racks, spine0 fails. Before, every
    request was byte-identical to the fault-free run (a ring hop took the slowest single link, and a
    NIC is slower than the leaf's surviving uplink); now the 8 channels of each leaf share half the
    uplink capacity, so the all-reduce and every token take longer while the spine is down."""
    common = dict(replicas=2, tp=16, model="llama-3.1-70b", rate="4/s", requests=80, output_median=200)
    healthy = run_text(scenario_text(**common, extra={"topology": FOUR_RACKS}), tmp_path)
    faulted = run_text(scenario_text(**common, extra={"topology": FOUR_RACKS, "faults": [
        {"type": "switch_failure", "at": "0s", "duration": "1h", "target": {"switch": "spine0"}}]}), tmp_path)
    assert healthy.log.counts()["completed"] == faulted.log.counts()["completed"] == 80
    slow = np.nanmedian(faulted.log.tpot_s()) / np.nanmedian(healthy.log.tpot_s())
    assert slow > 1.05, slow


def test_kv_fan_in_cannot_beat_the_decode_nic(tmp_path):
    """Eight TP1 prefill replicas feed one TP1 decode replica on another rack: every prompt's KV enters
    through the decode GPU's one NIC, so the last first token cannot come before all those bytes fit
    through it (before: each transfer had the whole path to itself, 8 in parallel)."""
    from chaos.catalog import load_catalog
    from chaos.perf import kv_bytes_per_token
    topo = dict(FOUR_RACKS, racks=2, scale_out={"nic_bandwidth": "25Gbps", "spines": 2})
    text = scenario_text(model="llama-3.1-8b", rate="40/s", requests=120, input_median=6000, output_median=20,
                         extra={"topology": topo, "deployment": {
                             "model": "llama-3.1-8b", "mode": "disaggregated",
                             "prefill": {"replicas": 8, "tp": 1}, "decode": {"replicas": 1, "tp": 1}}})
    res = run_text(text, tmp_path)
    kv_bytes = res.log.input_tokens.sum() * kv_bytes_per_token(load_catalog().model("llama-3.1-8b"))
    assert np.nanmax(res.log.first_token_s) >= kv_bytes / (25e9 / 8)
