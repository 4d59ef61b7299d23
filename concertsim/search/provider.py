"""The source of Hypothesis's choices during a search: its own provider, minus "local" constants.

Hypothesis's default provider sometimes replaces a random draw by a constant mined from the source
of every module it considers *local*: imported from outside site-packages and the standard library.
What is local depends on how concertsim was installed (a checkout or an editable install is local, a
wheel is not) and on which modules the process happened to import, so with the default provider the
same ``concertsim explore --seed`` searched differently from a checkout and from an install.

:class:`ReproducibleProvider` draws exactly as Hypothesis's own provider does, except that its
constants come from Hypothesis's fixed global pool only. Searches name it with
``settings(backend=BACKEND)``; :func:`register` makes that name known to Hypothesis and is called
when :mod:`concertsim.search` is imported.
"""

from __future__ import annotations

from typing import Any

from hypothesis.internal.conjecture.choice import choice_constraints_key, choice_permitted
from hypothesis.internal.conjecture.providers import (
    AVAILABLE_PROVIDERS,
    GLOBAL_CONSTANTS,
    HypothesisProvider,
)

__all__ = ["BACKEND", "ReproducibleProvider", "register"]

BACKEND = "concertsim"
"""The Hypothesis backend name of :class:`ReproducibleProvider`."""

# (choice type, constraints key) -> the global constants those constraints permit.
_permitted: dict[tuple[str, Any], tuple[Any, ...]] = {}


class ReproducibleProvider(HypothesisProvider):
    """Hypothesis's provider with the same draws, but a constant pool that does not depend on the
    importing process: the result of a search is a function of its seed and its budget alone."""

    def _maybe_draw_constant(self, choice_type: Any, constraints: Any, *, p: float = 0.05) -> Any:
        assert self._random is not None
        if self._random.random() > p:
            return None
        key = (choice_type, choice_constraints_key(choice_type, constraints))
        if key not in _permitted:
            _permitted[key] = tuple(
                c for c in GLOBAL_CONSTANTS.set_for_type(choice_type) if choice_permitted(c, constraints)
            )
        constants = _permitted[key]
        return self._random.choice(constants) if constants else None


def register() -> None:
    """Make ``settings(backend=BACKEND)`` available (idempotent)."""
    AVAILABLE_PROVIDERS[BACKEND] = ReproducibleProvider
