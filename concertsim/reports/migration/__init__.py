"""The migration report of the stages of splitting Point out of the monolith (seed 9), its terminal
summary, and the point-shift section a run report shows for a run that shifts traffic gradually.

May import ``sweep`` (its measures with intervals), ``comparison``, ``architecture`` and the shared
blocks; never ``ablation``, ``exploration`` or ``run``.
"""
