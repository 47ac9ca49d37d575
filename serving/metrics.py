"""Prometheus metrics of one server, in a registry of its own (so that tests can run several servers)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """What ``/metrics`` exposes. Labels: ``protocol`` (http, grpc), ``method``, ``code`` (status name)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "humanlike_requests", "Requests answered", ["protocol", "method", "code"], registry=r
        )
        self.latency = Histogram(
            "humanlike_request_seconds",
            "Time from a request's arrival to its answer",
            ["protocol", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("humanlike_errors", "Requests refused or failed, by kind", ["code"], registry=r)
        self.texts_scored = Counter("humanlike_texts_scored", "Texts scored", registry=r)
        self.texts_dropped = Counter(
            "humanlike_texts_dropped",
            "Admitted texts whose request was cancelled or timed out before they were scored",
            registry=r,
        )
        self.batch_windows = Histogram(
            "humanlike_batch_windows", "Windows per graph call", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "humanlike_batch_requests", "Requests sharing one graph call", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "humanlike_batch_seconds", "Time of one graph call", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_texts = Gauge(
            "humanlike_queue_texts", "Texts admitted and not yet answered (the bounded queue)", registry=r
        )
        self.ready = Gauge(
            "humanlike_ready", "1 when a model is loaded and warm and the server not draining", registry=r
        )
        self.reloads = Counter("humanlike_reloads", "Bundle reloads", ["outcome"], registry=r)
        self.scoring_restarts = Counter(
            "humanlike_scoring_restarts",
            "Times the scoring processes were started again because one of them died",
            registry=r,
        )
