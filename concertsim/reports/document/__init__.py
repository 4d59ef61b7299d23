"""A report as a list of blocks (``blocks.py``), rendered to HTML (``html.py``) and Markdown
(``markdown.py``) and written through a result directory (``writing.py``), and the words several
report kinds share: formatting, verdict counts, and a fault schedule in words and as a table.

A shared block: never imports a report kind or ``exports``. May import ``plotting`` and ``results``.
"""
