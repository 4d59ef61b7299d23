"""The runtime: SimPy processes that host the domain (ARCHITECTURE.md, "sim/")."""
