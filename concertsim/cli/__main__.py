"""``python -m concertsim.cli``: the same as the ``concertsim`` command."""

from concertsim.cli.app import main

main()
