"""Wire one scenario into a SimPy environment, run it, return a Result."""
from chaos.sim.run import Result, run

__all__ = ["Result", "run"]
