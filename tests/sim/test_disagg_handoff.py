"""Disaggregated hand-off (issue 15.3): decode KV is reserved before the transfer, a full decode pool
pushes back on prefill, and concurrent transfers share the links, each paying a setup cost."""
from __future__ import annotations

import numpy as np
import pytest
import simpy

from chaos.scenario import load_scenario_text
from chaos.sim import run
from chaos.sim.fabricshare import SharedFabric
from chaos.sim.live import LiveFabric
from chaos.topology import build_fabric, load_fabric_spec

from sim_scenarios import scenario_text

SPEC = {"name": "2x1", "gpu": "h100-sxm", "racks": 2, "hosts_per_rack": 1, "gpus_per_host": 8,
        "nvlink_domain": "host", "scale_out": {"nic_bandwidth": "400Gbps", "spines": 2}}
NIC_BPS = 50e9


def share_on_two_racks():
    env = simpy.Environment()
    fabric = build_fabric(load_fabric_spec(SPEC), nvlink_Bps=450e9, nic_Bps=NIC_BPS)
    return env, SharedFabric(env, fabric, LiveFabric(fabric), on_ring_change=lambda rid: None)


def test_concurrent_transfers_into_one_gpu_share_its_nic():
    """Two 5 GB transfers into one decode GPU at once: each gets half its NIC, so both end at
    setup + 10 GB / 50 GB/s (before: each had the whole path, 0.1 s)."""
    env, share = share_on_two_racks()
    done = {}
    d = ["rack1/host0/gpu0"]
    for key, src in ((1, ["rack0/host0/gpu0"]), (2, ["rack0/host0/gpu1"])):
        share.start_transfer(key, src, d, NIC_BPS, 5e9, 0.005, lambda key=key: done.setdefault(key, env.now))
    env.run()
    assert done[1] == pytest.approx(0.005 + 0.2) and done[2] == pytest.approx(0.005 + 0.2)


def test_a_transfer_speeds_up_when_its_neighbour_ends_and_cancel_frees_the_link():
    env, share = share_on_two_racks()
    done = {}
    d = ["rack1/host0/gpu0"]
    share.start_transfer(1, ["rack0/host0/gpu0"], d, NIC_BPS, 5e9, 0.0, lambda: done.setdefault(1, env.now))
    share.start_transfer(2, ["rack0/host0/gpu1"], d, NIC_BPS, 2.5e9, 0.0, lambda: done.setdefault(2, env.now))
    share.start_transfer(3, ["rack0/host0/gpu2"], d, NIC_BPS, 5e9, 0.0, lambda: done.setdefault(3, env.now))
    env.run(until=0.03)
    share.cancel(3)                         # its attempt died: it stops using the NIC, nothing fires
    env.run()
    # 0..0.03 s: three at 50/3 GB/s; then two at 25: #2 has 2.5e9 - 0.5e9 left -> ends at 0.03 + 0.08
    assert done[2] == pytest.approx(0.03 + 2.0e9 / 25e9)
    # #1 had 5e9 - 0.5e9 - 2e9 left at 0.11 s, alone at 50 GB/s
    assert done[1] == pytest.approx(0.11 + 2.5e9 / 50e9) and 3 not in done


def run_text(text, tmp_path):
    return run(load_scenario_text(text, "test.yaml", tmp_path))


def test_decode_saturation_pushes_back_on_prefill(tmp_path):
    """The issue's case, shrunk: long outputs fill the decode replica's KV. Transfers wait for decode
    blocks, the prefill replica keeps holding their KV, runs out of blocks, and its queue grows; the
    decode replica's KV reads full. Before: the prefill side freed its KV after every transfer, the
    backlog sat hidden in the decode queue and decode KV use read low."""
    text = scenario_text(mode="disaggregated", replicas=1, rate="20/s", requests=600, input_median=1500,
                         output_median=1500, extra={"duration": "40s", "engine": {
                             "max_num_seqs": 256, "max_num_batched_tokens": 8192, "gpu_memory_utilization": 0.3}})
    res = run_text(text, tmp_path)
    prefill, decode = res.fleet.pool("prefill")[0], res.fleet.pool("decode")[0]
    assert decode.num_reserving > 10                     # transfers waiting for decode KV
    assert prefill.num_held > 0 and prefill.kv_use_frac > 0.8
    assert prefill.num_waiting > 100                     # the back-pressure: prefill's queue grows
    assert decode.num_waiting < 10                       # not a hidden decode backlog
    assert decode.kv_use_frac > 0.8
    assert res.stats["request_path"].get("kv transfers waiting for decode KV", 0) > 0


def test_every_disaggregated_ttft_pays_the_transfer_setup(tmp_path):
    """At light load each request's TTFT grows by the connector's per-transfer setup (50 ms here)."""
    def ttft(setup):
        text = scenario_text(mode="disaggregated", replicas=1, rate="1/s", requests=10,
                             extra={"engine": {"kv_transfer_setup": setup}})
        return run_text(text, tmp_path).log.ttft_s()
    diff = ttft("50ms") - ttft("0s")
    assert np.all(diff > 0.045) and np.all(diff < 0.06), diff
