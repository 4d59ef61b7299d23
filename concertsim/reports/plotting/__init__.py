"""What every figure shares (``base.py``: the rendered form, trustworthy axes, fault lanes over
simulated time) and the capacity figure that both a run report and a notebook show.

A shared block: never imports a report kind, ``exports`` or ``document``. May import ``results``.
"""
