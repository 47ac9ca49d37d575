"""Serving: gRPC and HTTP over :mod:`detector`'s scoring core (see the open issue on the service)."""
