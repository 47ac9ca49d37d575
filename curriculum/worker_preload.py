"""What the curriculum's scoring workers share: imported by their forkserver, and nowhere else.

The workers of :func:`humanlike.curriculum.engines.process_chunk_scorer` are forked from a forkserver
and inherit its memory copy-on-write. What each worker would otherwise load for itself is loaded here
once:

- ``lexicalrichness`` with what it imports at module level (pandas, scipy, nltk, matplotlib), and the
  ``wordfreq`` lexicon (a frozenset that lookups only read), for the metrics;
- the n-gram featurizer of the bundle named by ``HUMANLIKE_WORKER_BUNDLE`` (set by
  ``process_chunk_scorer`` before it starts the forkserver): its hash tables and vocabulary, which
  :func:`humanlike.detector.features.load_featurizer` hands each worker's Detector when the bundle's
  ``features.json`` has the same bytes. The ONNX session is not shared: one holds threads, and
  threads do not survive a fork.

Without the curriculum extra installed the metrics' libraries are not loaded, and the workers fail on
their first metrics with the usual ImportError. A bundle that cannot be read here is left to each
worker, which loads it itself and reports what is wrong.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from humanlike.curriculum.scoring import WORKER_BUNDLE_ENV

try:
    import lexicalrichness  # noqa: F401

    from humanlike.curriculum.quality import lexicon

    lexicon("en")  # the lexicon of ScoringOptions' default language; others load in each worker
except ImportError:  # pragma: no cover - without the curriculum extra; the workers report it
    pass

if bundle := os.environ.get(WORKER_BUNDLE_ENV):
    from humanlike.detector.bundle import FEATURES_FILE
    from humanlike.detector.features import share_featurizer

    # Unverified bytes are harmless here: a worker's Detector verifies the bundle's checksums and takes
    # this featurizer only for the same features.json bytes.
    with contextlib.suppress(OSError, ValueError):  # no features.json (an LM bundle), or a bad one
        share_featurizer((Path(bundle) / FEATURES_FILE).read_bytes())
