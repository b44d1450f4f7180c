"""The command-line interface (``nnscratch``)."""
