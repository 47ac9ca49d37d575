"""One module per detector kind: how it is fitted and what graph it exports.

Each kind hands :func:`humanlike.training.build.build_bundle` a :class:`~humanlike.training.build.DraftBundle`
(its graph, tokenizers and window spec); calibration, thresholds, evaluation and writing are the build
path's, the same for every kind.
"""
