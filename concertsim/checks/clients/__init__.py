"""Promises about what buyers see and whether the system finishes: every answer honoured, calls
that wait their timeout, honest buyers served, every saga ended once the faults heal.

Each module registers its invariants with :func:`concertsim.checks.base.invariant` when imported
(``concertsim.checks`` imports them all). Modules import the machinery of ``checks`` (base,
evidence, applicability, fault_relevance) and, where a promise rests on another's reading of the
run, that module's helper (the points ledger's events, the seat view's payloads); none imports
``concertsim.checks`` itself, which imports them."""
