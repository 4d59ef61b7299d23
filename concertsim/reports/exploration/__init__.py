"""The exploration report: the minimal counterexample a search found and why it breaks (shown as
its run is shown), or, for a search that found none, how much of the dangerous ground it covered;
and the words on how a counterexample was shrunk, which the ablation report shares.

May import ``run`` (a counterexample is a run: its cause, violations, sections and figures),
``migration``, ``sweep``, ``comparison``, ``architecture`` and the shared blocks; never ``ablation``.
"""
