"""A result in other formats: JUnit XML and a CI step summary, OpenTelemetry and Chrome traces of
a run, and the HTML a notebook shows for a run, an exploration or a comparison.

A shared block: never imports a report kind. May import ``document``, ``plotting`` and ``results``.
"""
