"""Server configuration: flags, else ``HUMANLIKE_*`` environment variables, else these defaults."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from humanlike.detector.devices import Device

ENV_PREFIX = "HUMANLIKE_"


class ServeConfig(BaseModel):
    """Everything ``humanlike serve`` can be told. Each field is also read from ``HUMANLIKE_<FIELD>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bundle: str = Field(
        description="bundle directory to serve, or a model repository (numbered versions, the highest served)"
    )
    host: str = Field("127.0.0.1", description="address both servers bind (0.0.0.0 in containers)")
    http_port: int | None = Field(8000, ge=0, le=65535, description="HTTP port; 0 picks a free one")
    grpc_port: int | None = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one")
    device: Device = "auto"
    threads: int | None = Field(
        None,
        ge=1,
        description="ONNX Runtime intra-op threads (default: the cores, shared among the scoring processes)",
    )
    scoring_processes: int | Literal["auto"] = Field(
        "auto",
        description="processes that run graph calls, each with its own copy of the model: 0 runs them on "
        "the server's own inference thread; auto: one per core for an n-gram bundle on CPU (its "
        "featurizer is Python and would share the server's GIL), else 0",
    )
    max_batch_tokens: int | None = Field(
        None, ge=1, description="cap on a batch's padded size (windows x longest); default: the model's"
    )
    max_batch_size: int = Field(64, ge=1, description="most windows in one graph call")
    max_wait_ms: float = Field(
        2.0, ge=0, description="how long a partial batch waits for more requests before it runs"
    )
    max_queue_texts: int = Field(
        2048, ge=1, description="texts admitted and not yet answered; past it requests are refused (429)"
    )
    max_texts_per_request: int = Field(256, ge=1)
    max_request_bytes: int = Field(4 << 20, ge=1024, description="largest request body / message")
    request_timeout_s: float = Field(60.0, gt=0, description="server-side deadline for one request")
    stream_inflight: int = Field(8, ge=1, description="messages of one ScoreStream scored at a time")
    auth_token: str | None = Field(
        None, description="when set, both protocols require 'Authorization: Bearer <token>'"
    )
    admin: bool = Field(
        False,
        description="enable POST /admin/reload (re-reads the configured bundle or repository); "
        "needs auth_token",
    )
    tls_cert: str | None = Field(None, description="PEM certificate chain: serve gRPC over TLS")
    tls_key: str | None = Field(None, description="PEM private key for tls_cert")
    drain_timeout_s: float = Field(30.0, ge=0, description="on SIGTERM, how long in-flight work may take")
    keep_alive_s: int = Field(
        75,
        ge=1,
        description="how long an idle HTTP connection stays open; longer than the idle timeout of the proxy "
        "or load balancer in front (60 s on common ones), so that the server never closes a connection "
        "a client is about to reuse",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("http_port", "grpc_port", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in ("off", "none", "") else value

    @field_validator("scoring_processes", mode="before")
    @classmethod
    def _processes(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, int) and value < 0:
            raise ValueError("scoring_processes is 0 (the server's own thread), a count, or auto")
        return value

    @model_validator(mode="after")
    def _check(self) -> ServeConfig:
        if self.http_port is None and self.grpc_port is None:
            raise ValueError("nothing to serve: give an HTTP port, a gRPC port or both")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both tls_cert and tls_key")
        if self.auth_token is not None and not self.auth_token.strip():
            raise ValueError("auth_token is empty")
        if self.admin and self.auth_token is None:
            raise ValueError("admin actions need an auth token: set auth_token (HUMANLIKE_AUTH_TOKEN) too")
        return self

    @property
    def loopback_only(self) -> bool:
        """Whether the servers bind only loopback, which nothing off this machine can reach."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: assume it is reachable
            return False

    @classmethod
    def from_sources(cls, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ServeConfig:
        """Flags that are set win; otherwise ``HUMANLIKE_<FIELD>``; otherwise the default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            if flags.get(name) is not None:
                values[name] = flags[name]
            elif (ENV_PREFIX + name.upper()) in environ:
                values[name] = environ[ENV_PREFIX + name.upper()]
        return cls.model_validate(values)
