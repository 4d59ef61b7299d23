"""One run of a scenario (the top of ``sim``).

``system`` wires the whole simulated system of a scenario (hosts, replicas, broker, relays,
consumers, consumer groups, the shared processes of a migration stage, and ``point_shift``, the
traffic shift to the split-out Point); ``workload`` drives the users and records their ``history``;
``faults`` makes the scenario's faults happen; ``runner`` runs workload, heal and settle within an
``event_budget`` and leaves a ``result``, the records checks and reports read; ``cost`` estimates
what a run will need before it starts.

May import every other subpackage of ``sim``: ``services``, ``messaging``, ``hosting``,
``infrastructure``. Nothing below imports it.
"""
