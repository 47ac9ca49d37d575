"""humanlike serving: one scoring core (:mod:`serving.core`) behind gRPC and HTTP.

Like Text Embeddings Inference, the protocol front ends are thin routers: they parse, check auth and map
errors, and hand texts to :class:`serving.core.ScoringCore`, which owns the model and a micro-batcher
(:mod:`serving.batcher`) that merges the windows of concurrent requests into token-capped batches.
Scoring itself is the runtime's (:class:`detector.Detector`), the same path as the CLI's.
"""
