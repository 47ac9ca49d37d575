"""A real ``humanlike serve`` process on loopback, for the serving tests.

The server runs in a subprocess (so that SIGTERM and SIGHUP are real signals) under an import blocker:
serving must run without torch, scikit-learn, transformers or the training package.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import httpx

from humanlike.v1 import humanlike_pb2_grpc
from tests.test_layers import TRAINING_STACK, blocked_cli

# serving must run without the training stack (it may import serving, of course).
SERVE_BLOCKED = blocked_cli(TRAINING_STACK)


class Server:
    """``humanlike serve BUNDLE --http 0 --grpc 0 ARGS``; ports from its "listening" line."""

    def __init__(self, bundle: Path | str, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE_BLOCKED, "serve", str(bundle), "--http", "0", "--grpc", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.events: list[dict[str, Any]] = []
        listening = self.wait_for("listening", timeout=120)
        self.http_port: int = listening["http"]
        self.grpc_port: int = listening["grpc"]
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"

    def wait_for(self, event: str, timeout: float = 60) -> dict[str, Any]:
        """Reads the server's stdout until it announces ``event``."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        for seen in self.events:
            if seen["event"] == event:
                return seen
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    break
                self.events.append(json.loads(line))
                if self.events[-1]["event"] == event:
                    return self.events[-1]
        raise AssertionError(f"server did not announce {event!r}; stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")

    def channel(self, credentials: grpc.ChannelCredentials | None = None) -> grpc.Channel:
        if credentials is not None:
            return grpc.secure_channel(self.grpc_target, credentials)
        return grpc.insecure_channel(self.grpc_target)

    def stub(
        self, credentials: grpc.ChannelCredentials | None = None
    ) -> humanlike_pb2_grpc.DetectorServiceStub:
        return humanlike_pb2_grpc.DetectorServiceStub(self.channel(credentials))

    def http(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 60), **kwargs)

    def metric(self, name: str, labels: Sequence[str] = ()) -> float:
        """Sum of the samples of a Prometheus metric whose label text contains every ``labels`` item."""
        text = httpx.get(f"{self.url}/metrics").text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (line[len(name)] in "{ ") and all(lb in line for lb in labels):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
