"""Wire fuzzing and overload against a real server on loopback, bounded in count and time.

- gRPC: random bytes, truncated and bit-flipped valid messages, wrong message types, invalid UTF-8,
  empty and huge texts, unknown methods, streams of all of these; every answer is OK or a clear refusal
  (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNIMPLEMENTED...), never INTERNAL or UNKNOWN, and the server
  serves afterwards.
- HTTP: an open-loop burst far past the queue bound from many concurrent clients; every answer is 200
  or 429 with Retry-After, no 5xx, no dropped connection, and the server is ready afterwards.

Each test prints its tally (cases, status codes), the figures the issue asked to record.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import grpc
import httpx
import pytest

from humanlike.v1 import humanlike_pb2 as pb
from tests.servers import Server

SERVICE = "/humanlike.v1.DetectorService"
GRPC_CASES = 3000
REFUSALS_OK = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


def _payloads(rng: random.Random) -> list[bytes]:
    """One case's message bytes: valid, broken and hostile encodings of the service's messages."""
    valid = [
        pb.ScoreRequest(texts=["a fine text"]).SerializeToString(),
        pb.ScoreRequest(texts=["two", "texts"], windows=True).SerializeToString(),
        pb.RankRequest(texts=["b", "a"]).SerializeToString(),
        pb.GetModelRequest().SerializeToString(),
    ]
    base = rng.choice(valid)
    kind = rng.randrange(8)
    if kind == 0:
        return [rng.randbytes(rng.randrange(0, 200))]
    if kind == 1:
        return [base[: rng.randrange(0, len(base) + 1)]]
    if kind == 2 and base:
        flipped = bytearray(base)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return [bytes(flipped)]
    if kind == 3:  # field 1 (texts) as length-delimited invalid UTF-8
        text = rng.randbytes(rng.randrange(1, 40)) + b"\xff\xfe"
        return [b"\x0a" + bytes([len(text)]) + text]
    if kind == 4:
        return [pb.ScoreRequest(texts=[""] * rng.randrange(1, 4)).SerializeToString()]
    if kind == 5:
        return [pb.ScoreRequest(texts=["x" * rng.choice([100_001, 300_000])]).SerializeToString()]
    if kind == 6:
        return [pb.ScoreRequest(texts=["t"] * rng.choice([257, 2000])).SerializeToString()]
    return [rng.choice(valid) for _ in range(rng.randrange(0, 5))] + [rng.randbytes(rng.randrange(0, 50))]


def _identity(b: bytes) -> bytes:
    return b


def test_grpc_fuzzing_never_answers_internal(bundle: Path) -> None:
    rng = random.Random(20261130)
    codes: Counter[str] = Counter()
    methods = ["Score", "Rank", "GetModel", "ScoreStream", "NoSuchMethod"]
    started = time.monotonic()
    with Server(bundle, "--max-request-bytes", "262144") as s:
        channel = s.channel()
        for _ in range(GRPC_CASES):
            method = rng.choice(methods)
            messages = _payloads(rng)
            path = f"{SERVICE}/{method}"
            try:
                if method == "ScoreStream":
                    call = channel.stream_stream(
                        path, request_serializer=_identity, response_deserializer=_identity
                    )
                    for _answer in call(iter(messages), timeout=20):
                        pass
                else:
                    unary = channel.unary_unary(
                        path, request_serializer=_identity, response_deserializer=_identity
                    )
                    unary(messages[0] if messages else b"", timeout=20)
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
            codes[code.name] += 1
            assert code in REFUSALS_OK, f"{method} answered {code.name} to {messages!r:.200}"
        assert s.stub().Score(pb.ScoreRequest(texts=["still serving"]), timeout=20).scores[0].p_llm >= 0
        assert s.metric("humanlike_errors_total", ['code="INTERNAL"']) == 0
    print(
        f"gRPC fuzzing: {GRPC_CASES} cases in {time.monotonic() - started:.0f} s, status codes {dict(codes)}"
    )
    assert codes["OK"] > 0 and codes["INVALID_ARGUMENT"] > 0, codes  # both sides were exercised


async def _burst(url: str, n_requests: int, concurrency: int) -> Counter[str]:
    """``n_requests`` requests from ``concurrency`` clients at once; each answer's status, or its error."""
    tally: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n_requests):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                try:
                    r = await client.post("/v1/score", json={"texts": [f"burst text {i} " * 20] * 4})
                except httpx.HTTPError as e:
                    tally[f"{type(e).__name__}: {e}"] += 1
                    continue
                tally[str(r.status_code)] += 1
                if r.status_code == 429:
                    assert int(r.headers["retry-after"]) >= 1
                    assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def test_http_overload_is_refused_with_429_and_nothing_else(bundle: Path) -> None:
    """400 requests from 100 concurrent clients, 25 times what a queue of 16 texts (4 requests) holds."""
    with Server(bundle, "--max-queue-texts", "16", "--max-wait-ms", "5") as s:
        started = time.monotonic()
        tally = asyncio.run(_burst(s.url, n_requests=400, concurrency=100))
        seconds = time.monotonic() - started
        print(f"HTTP overload: 400 requests, 100 clients, {seconds:.1f} s, answers {dict(tally)}")
        if not set(tally) <= {"200", "429"}:  # no 5xx, no connection error, no timeout
            s.stop()
            pytest.fail(f"answers {dict(tally)}; the server's stderr:\n{s.stderr()[-4000:]}")
        assert tally["429"] > 0 and tally["200"] > 0, tally
        assert httpx.get(f"{s.url}/readyz").status_code == 200
        assert s.metric("humanlike_queue_texts") == 0
    assert s.process.returncode == 0
