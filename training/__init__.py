"""Training: read corpora into one schema, split them honestly, fit detectors, export bundles.

Produces what :mod:`detector` reads; imports :mod:`detector` only for the bundle format.
"""
