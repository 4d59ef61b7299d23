"""The search engine behind ``explore``: a reproducible Hypothesis backend (``provider``), a search
in independently seeded rounds (``rounds``) that may run on many processes (``parallel``), and a
deletion pass that makes a counterexample 1-minimal (``minimize``)."""
