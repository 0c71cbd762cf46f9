"""`fleetchaos serve`: the scenario's simulated fleet as a live OpenAI-compatible endpoint, on a clock
tied to wall time, with faults on the scenario's schedule or injected live (optional extra
`fleetchaos[serve]`: Starlette + uvicorn, imported only when serving)."""
from chaos.serve.server import FleetServer, ServeOptions, ServeResult

__all__ = ["FleetServer", "ServeOptions", "ServeResult"]
