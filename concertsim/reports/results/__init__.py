"""Result directories: files written atomically under a manifest (``directory.py``), one command
at a time (``lock.py``), and a result set staged beside ``--out`` and swapped in only when complete
(``staging.py``).

The bottom of ``reports``: imports no other part of it.
"""
