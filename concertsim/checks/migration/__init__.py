"""Promises of a migration in motion: no write lost between the stores, one owner per row, no
double spend, reads that never go back, rollbacks that lose nothing, each service's data kept.

Each module registers its invariants with :func:`concertsim.checks.base.invariant` when imported
(``concertsim.checks`` imports them all). Modules import the machinery of ``checks`` (base,
evidence, applicability, fault_relevance) and, where a promise rests on another's reading of the
run, that module's helper (the points ledger's events, the seat view's payloads); none imports
``concertsim.checks`` itself, which imports them."""
