"""What the curriculum's scoring workers share: imported by their forkserver, and nowhere else.

The workers of :func:`humanlike.curriculum.pipeline.process_chunk_scorer` are forked from a forkserver
and inherit its memory copy-on-write. What each worker would otherwise load for itself on its first
metrics is loaded here once: ``lexicalrichness`` with what it imports at module level (pandas, scipy,
nltk, matplotlib) and the ``wordfreq`` lexicon (a frozenset that lookups only read). Without the
curriculum extra installed this loads nothing, and the workers fail on their first metrics with the
usual ImportError.
"""

from __future__ import annotations

try:
    import lexicalrichness  # noqa: F401

    from humanlike.curriculum.quality import lexicon

    lexicon("en")  # the lexicon of ScoringOptions' default language; others load in each worker
except ImportError:  # pragma: no cover - without the curriculum extra; the workers report it
    pass
