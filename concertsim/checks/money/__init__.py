"""Promises about points and payments: a top-up credited once, no deduction left orphaned, balances
that match their ledger, refunds visible, an event-sourced account that replays to what it shows.

Each module registers its invariants with :func:`concertsim.checks.base.invariant` when imported
(``concertsim.checks`` imports them all). Modules import the machinery of ``checks`` (base,
evidence, applicability, fault_relevance) and, where a promise rests on another's reading of the
run, that module's helper (the points ledger's events, the seat view's payloads); none imports
``concertsim.checks`` itself, which imports them."""
