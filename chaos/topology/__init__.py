"""The fleet fabric as a NetworkX graph: TP-group placement, failure domains, blast radius, path bandwidth."""
from chaos.topology.blast import BlastRadius, blast_radius, frontend_reachable_gpus, remove_element
from chaos.topology.config import FabricSpec, ScaleOutSpec, load_fabric_spec
from chaos.topology.fabric import PCIE_GEN5_X16_BPS, Fabric, build_fabric, link_id
from chaos.topology.paths import Route, gpu_route, path, ring_link
from chaos.topology.placement import Placement, place

__all__ = [
    "BlastRadius", "Fabric", "FabricSpec", "PCIE_GEN5_X16_BPS", "Placement", "Route", "ScaleOutSpec",
    "blast_radius", "build_fabric", "frontend_reachable_gpus", "gpu_route", "link_id", "load_fabric_spec",
    "path", "place", "remove_element", "ring_link",
]
