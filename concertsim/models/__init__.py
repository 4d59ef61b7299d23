"""The domain of the five services: pure Python business rules, no SimPy, no I/O, no clock.

Functions take the current time (``now``) and a :class:`~concertsim.models.store.Store`, and return
the events they raise; the runtime decides when they run, commits their writes and publishes.
"""

from concertsim.models import concert, data_platform, errors, events, points, queue, reservations, store

__all__ = ["concert", "data_platform", "errors", "events", "points", "queue", "reservations", "store"]
