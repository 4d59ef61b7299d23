"""The run report of one scenario run: its first screen (verdict and cause), the scenario and
invariant sections, each broken invariant explained with its saga (trace records, mermaid sequence
diagram, message-flow figure), the metrics and service sections (capacity, staleness, replicas,
broker delivery, payment sagas), the run figures, and the terminal summary.

May import ``migration`` (its point-shift section, shown when a run shifts traffic), the report kinds
below it and the shared blocks; never ``ablation`` or ``exploration``.
"""
