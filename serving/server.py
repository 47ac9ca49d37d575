"""``humanlike serve``: the HTTP and gRPC servers in one process, one event loop, one scoring core.

Signals: SIGTERM or SIGINT drains (readiness and gRPC health go NOT_SERVING, no new calls are
accepted, admitted work finishes within ``drain_timeout_s``) and the process exits 0; SIGHUP reloads the
served bundle from disk (see :meth:`humanlike.serving.core.ScoringCore.reload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Generator
from typing import Any

import uvicorn

from humanlike.serving.config import ServeConfig
from humanlike.serving.core import ScoringCore
from humanlike.serving.errors import ReloadRefused
from humanlike.serving.grpc_server import GrpcServer, start_grpc_server
from humanlike.serving.http_app import create_app
from humanlike.serving.metrics import ServerMetrics

log = logging.getLogger("humanlike.serving")


class _UvicornServer(uvicorn.Server):
    """uvicorn without its own signal handling: this process drains both servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def announce(event: dict[str, Any]) -> None:
    """One JSON line on stdout (``{"event": "listening", "http": PORT, "grpc": PORT}``) for supervisors."""
    print(json.dumps(event), flush=True)


async def serve(config: ServeConfig, on_event: Callable[[dict[str, Any]], None] = announce) -> int:
    """Runs until SIGTERM/SIGINT, then drains; returns the exit status."""
    if config.auth_token is None and not config.loopback_only:
        log.warning(
            "serving on %s without an auth token: anyone who reaches this address can use the model; "
            "set HUMANLIKE_AUTH_TOKEN (or --auth-token-file) or bind 127.0.0.1",
            config.host,
        )
    metrics = ServerMetrics()
    core = ScoringCore(config, metrics)
    await core.start()

    grpc_server: GrpcServer | None = None
    if config.grpc_port is not None:
        grpc_server = await start_grpc_server(config, core, metrics)

    http_server: _UvicornServer | None = None
    http_task: asyncio.Task[None] | None = None
    http_port: int | None = None
    if config.http_port is not None:
        sock = _bind(config.host, config.http_port)
        http_port = sock.getsockname()[1]
        http_server = _UvicornServer(
            uvicorn.Config(
                create_app(core, metrics),
                log_level=config.log_level,
                access_log=False,
                # uvicorn's 5 s default races clients and proxies that reuse a connection just as it closes
                timeout_keep_alive=config.keep_alive_s,
                lifespan="off",
                timeout_graceful_shutdown=int(config.drain_timeout_s) or None,
            )
        )
        http_task = asyncio.create_task(http_server.serve(sockets=[sock]), name="http")
        while not http_server.started:
            if http_task.done():
                http_task.result()  # raises why uvicorn stopped
                raise RuntimeError("the HTTP server stopped before it started")
            await asyncio.sleep(0.01)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[Any]] = set()

    async def reload_from_signal() -> None:
        with contextlib.suppress(ReloadRefused):  # logged by the core; the old model keeps serving
            info = await core.reload()
            on_event({"event": "reloaded", "model_id": info.model_id})

    def on_hup() -> None:
        task = asyncio.create_task(reload_from_signal())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)

    on_event(
        {
            "event": "listening",
            "host": config.host,
            "http": http_port,
            "grpc": grpc_server.port if grpc_server else None,
            "model_id": core.model.model_id,
        }
    )
    waiters = [asyncio.create_task(stop.wait())] + ([http_task] if http_task else [])
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():  # the HTTP server stopped on its own: drain gRPC, then fail
        log.error("the HTTP server stopped unexpectedly; shutting down")

    log.info("draining: no new requests; finishing those in flight (up to %g s)", config.drain_timeout_s)
    on_event({"event": "draining"})
    core.begin_drain()
    if grpc_server is not None:
        await grpc_server.begin_drain()
    if http_server is not None:
        http_server.should_exit = True
    await asyncio.gather(
        *([grpc_server.stop(config.drain_timeout_s)] if grpc_server else []),
        *([http_task] if http_task else []),
    )
    await core.close()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(sig)
    on_event({"event": "stopped"})
    return 0 if stop.is_set() else 1


def run(config: ServeConfig) -> int:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(serve(config))
