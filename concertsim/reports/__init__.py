"""The consistency reports an architect reads, one room per report kind over shared building blocks.

Report kinds, each a subpackage with its ``report.py`` (``report.md`` and ``report.html``) and, where
the command prints one, its ``console.py``:

- ``ablation/``: each safeguard switched off, what broke without it, its minimal counterexample;
- ``exploration/``: the counterexample a search found (or the ground it covered), shrunk and explained;
- ``run/``: one scenario run, its verdicts, sagas, metrics, sections and figures;
- ``migration/``: the stages of splitting Point out, side by side, and the point shift of one run;
- ``sweep/``: a grid of cells over seeds, with rates and intervals;
- ``comparison/``: design A against design B over the same seeds;
- ``architecture/``: the graph of services, topics and databases (``concertsim graph``).

Shared blocks, which never import a report kind:

- ``exports/``: other formats of a result (JUnit, OTLP, Chrome trace, a notebook's HTML);
- ``document/``: a report as blocks, rendered to HTML and Markdown, and the words every report uses;
- ``plotting/``: what every figure shares, and the capacity figure a run and a notebook both show;
- ``results/``: the result directory, written atomically, locked, and swapped in when complete.

Imports run down this list (a subpackage may import its own modules and those listed below it, never
one above), which ``tests/reports/test_layers.py`` checks, type annotations and imports inside
functions included.
"""
