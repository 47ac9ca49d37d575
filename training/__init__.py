"""Training: read corpora into one schema, split them honestly, fit detectors, export bundles.

Produces what :mod:`detector` reads. Imports :mod:`detector` for the bundle format, for safe output
directories, and to score draft bundles through the runtime itself (one scoring path); never the other
way round.
"""
