"""Training: read corpora into one schema, split them honestly, fit detectors, export bundles.

Each detector kind is an estimator (:mod:`humanlike.training.kinds`); :mod:`humanlike.training.build`
turns a fitted one into a bundle, and the evaluation protocols fit the same estimators.

Produces what :mod:`detector` reads. Imports :mod:`detector` for the bundle format, for safe output
directories, and to score draft bundles through the runtime itself (one scoring path); never the other
way round.
"""
