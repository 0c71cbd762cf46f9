"""The fabric graph: GPUs, NVSwitches, NICs, leaf and spine switches, and the failure domains around them.

Data-path nodes (gpu, nvswitch, nic, leaf, spine) are joined by edges carrying `bandwidth_Bps`,
`latency_s` and `kind` (nvlink | pcie | scale_out). Rack and host nodes are failure domains: they sit
in the graph with no edges (so no path runs through them) and `Fabric.members()` says what they hold.
"""
from __future__ import annotations

from typing import Iterable

import networkx as nx

from chaos.errors import TopologyError, did_you_mean
from chaos.topology.config import FabricSpec

# GPU <-> NIC is a PCIe Gen5 x16 link: 32 GT/s x 16 lanes x 128b/130b ~= 63 GB/s per direction
# (PCI-SIG PCIe 5.0 spec); rounded to 64 GB/s. Faster NICs (800G ConnectX-8) sit on Gen6, so the PCIe
# link is never made slower than the NIC it feeds. Its latency is folded into `network_latency`.
PCIE_GEN5_X16_BPS = 64e9

NODE_KINDS = ("rack", "host", "gpu", "nic", "nvswitch", "leaf", "spine")
SWITCH_KINDS = frozenset({"leaf", "spine"})


def link_id(u: str, v: str) -> str:
    """Canonical "a--b" name of the link between two nodes (endpoints in sorted order)."""
    a, b = sorted((u, v))
    return f"{a}--{b}"


class Fabric:
    """A built fabric: the graph plus ordered views of GPUs, hosts, racks and NVLink domains."""

    def __init__(self, spec: FabricSpec, graph: nx.Graph, *, nvlink_Bps: float, nic_Bps: float) -> None:
        self.spec = spec
        self.graph = graph
        self.gpu_name = spec.gpu
        self.nvlink_Bps = nvlink_Bps
        self.nic_Bps = nic_Bps
        self._by_kind: dict[str, list[str]] = {k: [] for k in NODE_KINDS}
        for node, kind in graph.nodes(data="kind"):
            self._by_kind[kind].append(node)
        self._domains: dict[str, list[str]] = {}
        self._members: dict[str, list[str]] | None = None   # host/rack -> members(), built on first use
        self._hosts_gpus: dict[str, list[str]] = {}
        for gpu in self._by_kind["gpu"]:
            attrs = graph.nodes[gpu]
            self._domains.setdefault(attrs["domain"], []).append(gpu)
            self._hosts_gpus.setdefault(attrs["host"], []).append(gpu)

    def __repr__(self) -> str:
        s = self.spec
        return (f"Fabric({s.name!r}: {s.racks} racks x {s.hosts_per_rack} hosts x {s.gpus_per_host} "
                f"{s.gpu}, nvlink_domain={s.nvlink_domain}, spines={s.scale_out.spines})")

    def gpus(self) -> list[str]:
        """Every GPU id, rack-major then host then index (the placement order)."""
        return list(self._by_kind["gpu"])

    def hosts(self) -> list[str]:
        return list(self._by_kind["host"])

    def racks(self) -> list[str]:
        return list(self._by_kind["rack"])

    def nodes_of_kind(self, kind: str) -> list[str]:
        """Node ids of one kind (see NODE_KINDS), in build order."""
        return list(self._by_kind[kind])

    def domains(self) -> dict[str, list[str]]:
        """NVLink domains in order: NVSwitch id -> its GPUs."""
        return {d: list(g) for d, g in self._domains.items()}

    def nvlink_domain(self, gpu: str) -> str:
        """The NVSwitch id of the NVLink domain `gpu` belongs to."""
        return self.graph.nodes[self._check(gpu, ("gpu",))]["domain"]

    def gpus_of(self, element: str) -> list[str]:
        """GPUs inside a host, rack, NVLink domain (nvswitch id) or the GPU itself."""
        kind = self.graph.nodes[self._check(element, ("gpu", "host", "rack", "nvswitch"))]["kind"]
        if kind == "gpu":
            return [element]
        if kind == "host":
            return list(self._hosts_gpus[element])
        if kind == "nvswitch":
            return list(self._domains[element])
        return [g for g in self._by_kind["gpu"] if self.graph.nodes[g]["rack"] == element]

    def members(self, element: str) -> list[str]:
        """Every node that fails with `element`: itself, plus what a host or rack contains.

        A host holds its GPUs, NICs and (host domain) NVSwitch; a rack holds its hosts, its leaf switch
        and (rack domain) its NVSwitch.
        """
        kind = self.kind_of(element)
        if kind not in ("host", "rack"):
            return [element]
        if self._members is None:          # one pass over the graph for every host and rack
            self._members = {}
            for n, attrs in self.graph.nodes(data=True):
                for key in ("host", "rack"):
                    owner = attrs.get(key)
                    if owner is not None:
                        self._members.setdefault(owner, [owner])
                        if n != owner:
                            self._members[owner].append(n)
        return list(self._members.get(element, [element]))

    def links(self) -> list[str]:
        """Every data link as "a--b"."""
        return [link_id(u, v) for u, v in self.graph.edges]

    def kind_of(self, element: str) -> str:
        """The kind of a node id, or "link" for "a--b"; TopologyError with did-you-mean otherwise."""
        if element in self.graph:
            return self.graph.nodes[element]["kind"]
        if "--" in element:
            u, _, v = element.partition("--")
            if self.graph.has_edge(u, v):
                return "link"
            raise TopologyError(f"no link {element!r} in fabric {self.spec.name!r}"
                                f"{did_you_mean(element, self.links())}")
        raise TopologyError(f"no element {element!r} in fabric {self.spec.name!r}"
                            f"{did_you_mean(element, list(self.graph.nodes))}; ids look like "
                            f"rack0, rack0/host1, rack0/host1/gpu3, rack0/host1/nic3, rack0/leaf, spine0 "
                            f"or a link a--b")

    def _check(self, element: str, kinds: Iterable[str]) -> str:
        kinds = tuple(kinds)
        if self.kind_of(element) not in kinds:
            raise TopologyError(f"{element!r} is a {self.kind_of(element)}, expected a {' or '.join(kinds)}")
        return element


def build_fabric(spec: FabricSpec, *, nvlink_Bps: float | None = None, nic_Bps: float | None = None) -> Fabric:
    """Build the fabric graph; `nvlink_Bps`/`nic_Bps` are the GPU's catalog numbers (bytes/s, one
    direction), used where the spec does not override them."""
    nvlink = spec.nvlink_bandwidth or nvlink_Bps
    nic = spec.scale_out.nic_bandwidth or nic_Bps
    for value, field in ((nvlink, "nvlink_bandwidth"), (nic, "scale_out.nic_bandwidth")):
        if value is None or not value > 0:
            raise TopologyError(f"no bandwidth for {spec.gpu}: set it in the fabric or pass the GPU's "
                                f"catalog value to build_fabric (got {value!r})", field=field)
    so = spec.scale_out
    pcie = max(PCIE_GEN5_X16_BPS, nic)
    uplink = so.leaf_uplink_bandwidth
    if uplink is None and so.spines:
        uplink = spec.gpus_per_rack * nic / so.spines  # non-blocking leaf
    half_nvl, half_net = so.nvlink_latency / 2, so.network_latency / 2

    g = nx.Graph(name=spec.name)
    for s in range(so.spines):
        g.add_node(f"spine{s}", kind="spine", rack=None, host=None)
    for r in range(spec.racks):
        rack = f"rack{r}"
        leaf = f"{rack}/leaf"
        g.add_node(rack, kind="rack", rack=rack, host=None)
        g.add_node(leaf, kind="leaf", rack=rack, host=None)
        for s in range(so.spines):
            g.add_edge(leaf, f"spine{s}", kind="scale_out", bandwidth_Bps=uplink, latency_s=so.network_latency)
        if spec.nvlink_domain == "rack":
            g.add_node(f"{rack}/nvswitch", kind="nvswitch", rack=rack, host=None)
        for h in range(spec.hosts_per_rack):
            host = f"{rack}/host{h}"
            g.add_node(host, kind="host", rack=rack, host=host)
            if spec.nvlink_domain == "host":
                domain = f"{host}/nvswitch"
                g.add_node(domain, kind="nvswitch", rack=rack, host=host)
            else:
                domain = f"{rack}/nvswitch"
            for i in range(spec.gpus_per_host):
                gpu, nic_id = f"{host}/gpu{i}", f"{host}/nic{i}"
                g.add_node(gpu, kind="gpu", rack=rack, host=host, domain=domain, nic=nic_id, index=i)
                g.add_node(nic_id, kind="nic", rack=rack, host=host, gpu=gpu)
                g.add_edge(gpu, domain, kind="nvlink", bandwidth_Bps=nvlink, latency_s=half_nvl)
                g.add_edge(gpu, nic_id, kind="pcie", bandwidth_Bps=pcie, latency_s=0.0)
                g.add_edge(nic_id, leaf, kind="scale_out", bandwidth_Bps=nic, latency_s=half_net)
    return Fabric(spec, g, nvlink_Bps=nvlink, nic_Bps=nic)
