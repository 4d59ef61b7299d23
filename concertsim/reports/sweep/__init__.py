"""The sweep report: which cells of a grid broke which invariants and how often, each cell's
headline measures with intervals, its figures, and its terminal summary.

May import ``comparison``, ``architecture`` and the shared blocks; never a report kind above it.
"""
