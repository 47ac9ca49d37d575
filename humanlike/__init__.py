"""The ``humanlike`` command line (see :mod:`humanlike.cli`)."""
