"""``python -m concertsim``: the same command line as the ``concertsim`` script."""

from concertsim.console import main

if __name__ == "__main__":
    main()
