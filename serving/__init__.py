"""humanlike serving: one scoring core (:mod:`humanlike.serving.core`) behind gRPC and HTTP.

Like Text Embeddings Inference, the protocol front ends are thin routers: they parse, check auth and map
errors, and hand texts to :class:`humanlike.serving.core.ScoringCore`, which owns the model and a
micro-batcher
(:mod:`humanlike.serving.batcher`) that merges the windows of concurrent requests into token-capped batches.
Scoring itself is the runtime's (:class:`humanlike.detector.Detector`), the same path as the CLI's.
"""
