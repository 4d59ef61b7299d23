"""The comparison report: design A against design B over the same seeds, with its figures.

May import ``architecture`` and the shared blocks; never a report kind above it.
"""
