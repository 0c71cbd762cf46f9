"""GPU and model specs as YAML data with typed loaders; users add or override entries with their own files."""
from chaos.catalog.loader import Catalog, load_catalog
from chaos.catalog.specs import GPUSpec, ModelSpec

__all__ = ["Catalog", "GPUSpec", "ModelSpec", "load_catalog"]
