"""Curricula: order a corpus for training by human-likeness, quality and generator mix, at scale.

Uses :mod:`detector` for scores; never imports ``training`` or ``serving``. Entry point:
:func:`humanlike.curriculum.pipeline.build_curriculum` (``humanlike curriculum`` on the command line).
"""
