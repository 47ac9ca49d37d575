"""Load generator for ``humanlike serve``: throughput and latency over HTTP and gRPC, batching gain, overload.

    .venv/bin/python bench/bench_serving.py BUNDLE [--corpus PATH] [--seconds 8]

Loopback only, bounded in time (``--seconds`` per level) and count (``--max-requests`` per level).
Every request carries one text (many clients, one record each: the case where server-side batching is
all that can fill a batch). The texts are a fixed grouped sample of the corpus (``--seed``).

1. Raw runtime: ``Detector.score_texts`` on the same texts, batch 64, in this process, before any
   server runs: the ceiling the server is compared with.
2. Closed loop at concurrency 1, 8, 32, 128 for each protocol against a server with default settings:
   texts/s, p50/p99 latency, errors (must be 0).
3. Batching gain: the same at concurrency 32 against a server with batches of one window and no wait
   (``--max-batch-size 1 --max-wait-ms 0``).
4. Overload: open loop at 10x the measured concurrency-32 throughput for ``--seconds``, against a
   server with a small queue (``--max-queue-texts``): every request is either scored or refused with
   429 / RESOURCE_EXHAUSTED; the server must stay up; admitted requests' p99 is reported beside the
   bound the queue implies (queue / throughput).

The server runs in a subprocess with the same ONNX Runtime thread count as the raw runtime; the load
generator (asyncio, httpx and grpc.aio) shares the machine's cores with it, as a sidecar client would.
Writes bench/results/serving-<bundle kind>-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np

from humanlike.v1 import humanlike_pb2 as pb
from humanlike.v1 import humanlike_pb2_grpc as pbg


@dataclass
class LevelResult:
    protocol: str
    concurrency: int
    server: str
    requests: int = 0
    ok: int = 0
    refused: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    texts_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    offered_per_s: float | None = None


class ServerProcess:
    def __init__(self, bundle: str, threads: int | None, *args: str) -> None:
        """``threads``: ONNX Runtime threads (per scoring process); None leaves the server's default."""
        cmd = [
            sys.executable,
            "-m",
            "humanlike",
            "serve",
            bundle,
            "--http",
            "0",
            "--grpc",
            "0",
            *(("--threads", str(threads)) if threads is not None else ()),
            "--log-level",
            "warning",
            *args,
        ]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        event = json.loads(self.process.stdout.readline())
        assert event["event"] == "listening", event
        self.http = f"http://127.0.0.1:{event['http']}"
        self.grpc = f"127.0.0.1:{event['grpc']}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


class Client:
    """One protocol's client; ``score`` returns "ok", "refused" or an error name."""

    def __init__(self, protocol: str, server: ServerProcess, concurrency: int) -> None:
        self.protocol = protocol
        if protocol == "http":
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            self.http = httpx.AsyncClient(base_url=server.http, limits=limits, timeout=120)
        else:
            self.channel = grpc.aio.insecure_channel(server.grpc)
            self.stub = pbg.DetectorServiceStub(self.channel)

    async def score(self, text: str) -> str:
        if self.protocol == "http":
            try:
                r = await self.http.post("/v1/score", json={"texts": [text]})
            except httpx.HTTPError as e:
                return type(e).__name__
            return "ok" if r.status_code == 200 else "refused" if r.status_code == 429 else str(r.status_code)
        try:
            await self.stub.Score(pb.ScoreRequest(texts=[text]), timeout=120)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                return "refused"
            return f"{e.code().name}: {(e.details() or '')[:60]}"
        return "ok"

    async def close(self) -> None:
        if self.protocol == "http":
            await self.http.aclose()
        else:
            await self.channel.close()


def summarize(
    result: LevelResult, latencies: list[float], outcomes: list[str], seconds: float
) -> LevelResult:
    result.requests = len(outcomes)
    result.ok = outcomes.count("ok")
    result.refused = outcomes.count("refused")
    for o in outcomes:
        if o not in ("ok", "refused"):
            result.errors[o] = result.errors.get(o, 0) + 1
    result.seconds = seconds
    result.texts_per_s = result.ok / seconds
    if latencies:
        result.p50_ms = float(np.percentile(latencies, 50) * 1000)
        result.p99_ms = float(np.percentile(latencies, 99) * 1000)
    return result


async def closed_loop(
    client: Client, texts: list[str], concurrency: int, seconds: float, cap: int, result: LevelResult
) -> LevelResult:
    """``concurrency`` workers, each sending its next text as soon as its last one is answered."""
    latencies: list[float] = []
    outcomes: list[str] = []
    # Warm the connections (one request per connection, not counted).
    await asyncio.gather(*(client.score(texts[-1 - i]) for i in range(min(concurrency, 32))))
    counter = iter(range(cap))
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            outcome = await client.score(texts[i % len(texts)])
            if outcome == "ok":
                latencies.append(time.perf_counter() - sent)
            outcomes.append(outcome)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarize(result, latencies, outcomes, time.perf_counter() - started)


async def open_loop(
    client: Client, texts: list[str], rate: float, seconds: float, cap: int, result: LevelResult
) -> LevelResult:
    """Requests sent at ``rate`` per second whatever the answers (offered load), for ``seconds``."""
    latencies: list[float] = []
    outcomes: list[str] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        outcome = await client.score(texts[i % len(texts)])
        if outcome == "ok":
            latencies.append(time.perf_counter() - started)
        outcomes.append(outcome)

    tasks = []
    started = time.perf_counter()
    n = min(cap, int(rate * seconds))
    for i in range(n):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    result.offered_per_s = n / (time.perf_counter() - started)
    return summarize(result, latencies, outcomes, time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bundle")
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--overload-queue-texts", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    from bench_baseline import cpu_model  # bench/ is on sys.path when a bench script runs

    from humanlike.detector import Detector
    from humanlike.detector.runtime import usable_cores
    from humanlike.training.data.corpus import resolve_corpus_paths, sample
    from humanlike.training.data.readers import load_corpus

    records, _ = load_corpus(resolve_corpus_paths(args.corpus))
    detector = Detector(args.bundle, device="cpu", threads=args.threads)
    limit = detector.manifest.max_length
    texts = [r.text for r in sample(records, args.n_texts, seed=args.seed) if r.text.strip()][: args.n_texts]
    texts = [t[:limit] for t in texts]
    np.random.default_rng(args.seed).shuffle(texts)  # every level sends a representative mix from the start
    del records

    detector.score_texts(texts[:64])
    started = time.perf_counter()
    detector.score_texts(texts, batch_size=64)
    raw = len(texts) / (time.perf_counter() - started)
    kind = detector.manifest.kind + ("-" + detector.manifest.precision if detector.manifest.windows else "")
    del detector
    print(f"raw runtime: {raw:.1f} texts/s on {len(texts)} texts ({kind})", flush=True)

    levels: list[LevelResult] = []

    def run_level(
        server: ServerProcess,
        name: str,
        protocol: str,
        concurrency: int,
        rate: float | None = None,
        full_pass: bool = False,
    ) -> LevelResult:
        async def go() -> LevelResult:
            # Open loop: up to 256 requests on the wire at once; the rest wait in the client's pool.
            client = Client(protocol, server, concurrency if rate is None else 256)
            result = LevelResult(protocol, concurrency, name)
            try:
                if full_pass:  # every text once (the raw runtime's texts), under a generous time cap
                    return await closed_loop(client, texts, concurrency, 600, len(texts), result)
                if rate is None:
                    return await closed_loop(
                        client, texts, concurrency, args.seconds, args.max_requests, result
                    )
                return await open_loop(client, texts, rate, args.seconds, args.max_requests, result)
            finally:
                await client.close()

        result = asyncio.run(go())
        levels.append(result)
        print(json.dumps(asdict(result)), flush=True)
        return result

    default = ServerProcess(args.bundle, args.threads)
    for protocol in ("grpc", "http"):
        for c in args.concurrency:
            run_level(default, "default", protocol, c)
        # The comparison with the raw runtime: exactly its texts, once each, at concurrency 32.
        run_level(default, "default-all-texts", protocol, 32, full_pass=True)
    default_exit = default.stop()

    one = ServerProcess(args.bundle, args.threads, "--max-batch-size", "1", "--max-wait-ms", "0")
    for protocol in ("grpc", "http"):
        run_level(one, "batch-of-one", protocol, 32, full_pass=True)
    one.stop()

    small_queue = ServerProcess(
        args.bundle, args.threads, "--max-queue-texts", str(args.overload_queue_texts)
    )
    overload = {}
    for protocol in ("grpc", "http"):
        c32 = next(
            r for r in levels if r.server == "default" and r.protocol == protocol and r.concurrency == 32
        )
        run_level(small_queue, "overload", protocol, 0, rate=10 * c32.texts_per_s)
        with httpx.Client() as c:
            healthy = c.get(f"{small_queue.http}/healthz").status_code == 200
            answered = [  # the server's own count of answers by status, cumulative over protocols
                line
                for line in c.get(f"{small_queue.http}/metrics").text.splitlines()
                if line.startswith(("humanlike_requests_total", "humanlike_errors_total"))
            ]
        overload[protocol] = {
            "alive_after": small_queue.alive() and healthy,
            "server_counts": answered,
            "p99_bound_ms": 1000 * args.overload_queue_texts / max(c32.texts_per_s, 1e-9),
        }
        print(json.dumps({"overload": protocol, **overload[protocol]}), flush=True)
    overload_exit = small_queue.stop()

    def at(server: str, protocol: str, c: int) -> LevelResult:
        return next(r for r in levels if r.server == server and r.protocol == protocol and r.concurrency == c)

    summary = {
        protocol: {
            "c32_vs_raw": at("default-all-texts", protocol, 32).texts_per_s / raw,
            "batching_gain_c32": at("default-all-texts", protocol, 32).texts_per_s
            / max(at("batch-of-one", protocol, 32).texts_per_s, 1e-9),
        }
        for protocol in ("grpc", "http")
    }
    report: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": usable_cores(), "python": platform.python_version()},
        "bundle": {"path": args.bundle, "kind": kind},
        "texts": {"n": len(texts), "mean_chars": float(np.mean([len(t) for t in texts])), "seed": args.seed},
        "threads": args.threads,
        "raw_runtime_texts_per_s": raw,
        "levels": [asdict(r) for r in levels],
        "summary": summary,
        "overload": overload,
        "server_exit_codes": {"default": default_exit, "overload": overload_exit},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"serving-{kind}-{datetime.now(UTC).date()}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
