"""The architecture analysis of ``concertsim graph``: the graph of services, endpoints, topics
and databases read from the simulator's wiring, what it tells an architect, and its figure.

May import the shared blocks only.
"""
