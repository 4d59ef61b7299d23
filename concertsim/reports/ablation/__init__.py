"""The ablation report: each safeguard switched off in each payment flow, what broke without it,
how quickly the search found it, and its minimal counterexample.

May import ``exploration`` (how a counterexample is told and replayed), ``run`` and the shared
blocks (``exports``, ``document``, ``plotting``, ``results``).
"""
