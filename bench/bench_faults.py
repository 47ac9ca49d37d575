"""Faults under load for ``humanlike serve``: fuzzed requests, a hot reload, a killed scoring process, a soak.

    .venv/bin/python bench/bench_faults.py BUNDLE [--corpus PATH] [--fuzz 10000] [--soak-minutes 10]
        [--only fuzz reload kill soak]

Loopback, one server subprocess per part, the load generator (asyncio, httpx, grpc.aio) sharing the
cores with it. Each part records what it saw; ``passed`` says whether the part's claim held.

1. ``fuzz``: ``--fuzz`` requests per protocol, each a mutation of a valid one (wrong types, missing
   and unknown fields, empty, huge and control-character texts, broken UTF-8 and random bytes, wrong
   methods and content types; for gRPC, random bytes and wrong field types as the wire message).
   Claim: no HTTP 5xx, no gRPC INTERNAL or UNKNOWN, and the server still scores afterwards.
2. ``reload``: closed-loop load on both protocols while ``POST /admin/reload`` re-reads the bundle
   ``--reloads`` times. Claim: every request is scored (no error, no refusal needed).
3. ``kill``: closed-loop load on both protocols through the product's gRPC client (which retries
   UNAVAILABLE and RESOURCE_EXHAUSTED) and raw HTTP; one scoring process is sent SIGKILL. Claim: the
   requests whose batch it held end with 503 / UNAVAILABLE, none hangs past its deadline, the client's
   calls all succeed through their retries, and the server scores again within seconds.
4. ``soak``: closed-loop load at a concurrency the server admits, for ``--soak-minutes``; the resident
   memory of the server and its scoring processes sampled every 5 s. Claim: no error, and the last
   minute's median RSS (the server's whole process tree) within 10% of the first minute's, after a
   one-minute warm-up.

Writes bench/results/faults-<date>.json with the machine, the command and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import psutil
from bench_serving import ServerProcess
from benchlib import command, machine, now, write_result

from humanlike.v1 import humanlike_pb2 as pb
from humanlike.v1 import humanlike_pb2_grpc as pbg

TOKEN = "bench-faults-token"
SCORE = "/humanlike.v1.DetectorService/Score"
RANK = "/humanlike.v1.DetectorService/Rank"


TOKEN_FILE = Path(tempfile.mkdtemp(prefix="humanlike-bench-")) / "token"
"""Written once, read by every server this bench starts; removed when the bench ends."""


def server(bundle: str, *args: str) -> ServerProcess:
    if not TOKEN_FILE.exists():
        TOKEN_FILE.write_text(TOKEN)
    return ServerProcess(bundle, None, "--auth-token-file", str(TOKEN_FILE), *args)


AUTH = {"authorization": f"Bearer {TOKEN}"}
GRPC_AUTH = (("authorization", f"Bearer {TOKEN}"),)


# ---- fuzz ---------------------------------------------------------------------------------------


def http_mutation(rng: random.Random, texts: list[str]) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path, headers, body): a valid request bent one way."""
    path = rng.choice(["/v1/score", "/v1/rank", "/v1/model", "/admin/reload", "/v1/score/", "/v2/x"])
    method = rng.choice(["POST"] * 6 + ["GET", "PUT", "DELETE", "PATCH"])
    headers = {"content-type": "application/json", **(AUTH if rng.random() < 0.9 else {})}
    text = rng.choice(texts)
    choices: list[Any] = [
        {"texts": [text]},
        {"texts": []},
        {"texts": [""]},
        {"texts": ["\x00\x01\x02 control"]},
        {"texts": [text * rng.randint(50, 400)]},
        {"texts": [text] * rng.randint(100, 3000)},
        {"texts": text},
        {"texts": [1, 2, 3]},
        {"texts": [None]},
        {"texts": [[text]]},
        {"text": text},
        {},
        [],
        None,
        "just a string",
        12345,
        {"texts": [text], "unknown": {"deep": [1] * 10}},
        {"texts": [text], "version": -1},
        {"version": rng.choice([0, 1, 99, "x", None])},
        {"texts": ["\ud800 lone surrogate"]},
        {"texts": ["é" * 5000]},
        {"a": {"b": {"c": {"d": {"e": [[[[[]]]]]}}}}},
    ]
    body_kind = rng.random()
    if body_kind < 0.7:
        value = rng.choice(choices)
        try:
            body = json.dumps(value).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            body = b"{}"
    elif body_kind < 0.8:
        body = b'{"texts": ["' + bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))) + b'"]}'
    elif body_kind < 0.9:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
    else:
        valid = json.dumps({"texts": [text]}).encode()
        cut = rng.randint(0, len(valid))
        body = valid[:cut]
    if rng.random() < 0.1:
        headers["content-type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", ""])
    return method, path, headers, body


def grpc_mutation(rng: random.Random, texts: list[str]) -> tuple[str, bytes]:
    """(method, wire bytes): a Score or Rank request, valid or bent."""
    method = rng.choice([SCORE, RANK])
    text = rng.choice(texts)
    kind = rng.random()
    if kind < 0.5:
        cases = [
            [text],
            [],
            [""],
            ["\x00 control"],
            [text * rng.randint(50, 400)],
            [text] * rng.randint(100, 3000),
            ["é" * 5000],
        ]
        return method, pb.ScoreRequest(texts=rng.choice(cases)).SerializeToString()
    if kind < 0.7:  # field 1 as a string with broken UTF-8 inside
        payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        return method, b"\x0a" + _varint(len(payload)) + payload
    if kind < 0.85:  # field 1 with the wrong wire type, or an unknown field
        return method, rng.choice([b"\x08\x01", b"\x0d\x00\x00\x00\x00", b"\x7a\x03abc", b"\x0a\xff\xff\xff"])
    return method, bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


async def fuzz(bundle: str, texts: list[str], n: int, seed: int) -> dict[str, Any]:
    srv = server(bundle, "--admin")
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    codes: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(base_url=srv.http, timeout=60) as client:
            sem = asyncio.Semaphore(16)

            async def one_http(i: int) -> None:
                method, path, headers, body = http_mutation(rng, texts)
                async with sem:
                    try:
                        r = await client.request(method, path, headers=headers, content=body)
                        key = str(r.status_code)
                    except httpx.HTTPError as e:
                        key = type(e).__name__
                statuses[key] = statuses.get(key, 0) + 1
                if (not key.isdigit() or int(key) >= 500) and len(examples) < 10:
                    examples.append(
                        {
                            "method": method,
                            "path": path,
                            "headers": headers,
                            "body": body[:300].decode("utf-8", "backslashreplace"),
                            "status": key,
                        }
                    )

            await asyncio.gather(*(one_http(i) for i in range(n)))
        channel = grpc.aio.insecure_channel(srv.grpc)
        sem = asyncio.Semaphore(16)

        async def one_grpc(i: int) -> None:
            method, wire = grpc_mutation(rng, texts)
            call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
            metadata = GRPC_AUTH if rng.random() < 0.9 else ()
            async with sem:
                try:
                    await call(wire, metadata=metadata, timeout=60)
                    key = "OK"
                except grpc.aio.AioRpcError as e:
                    key = e.code().name
            codes[key] = codes.get(key, 0) + 1
            if key in ("INTERNAL", "UNKNOWN", "DEADLINE_EXCEEDED") and len(examples) < 20:
                examples.append({"method": method, "wire": wire[:300].hex(), "code": key})

        await asyncio.gather(*(one_grpc(i) for i in range(n)))
        await channel.close()
        still = _scores_once(srv)
    finally:
        alive = srv.alive()
        srv.stop()
    bad_http = {k: v for k, v in statuses.items() if not k.isdigit() or int(k) >= 500}
    bad_grpc = {k: v for k, v in codes.items() if k in ("INTERNAL", "UNKNOWN", "DEADLINE_EXCEEDED")}
    return {
        "requests_per_protocol": n,
        "http_statuses": dict(sorted(statuses.items())),
        "grpc_codes": dict(sorted(codes.items())),
        "failures": examples,
        "server_alive_after": alive,
        "scores_after": still,
        "passed": not bad_http and not bad_grpc and alive and still,
    }


def _scores_once(srv: ServerProcess) -> bool:
    try:
        r = httpx.post(f"{srv.http}/v1/score", json={"texts": ["A last text."]}, headers=AUTH, timeout=60)
        return r.status_code == 200
    except httpx.HTTPError:
        return False


# ---- load ---------------------------------------------------------------------------------------


class Load:
    """Closed-loop workers on both protocols; every outcome counted by name, latencies of the scored."""

    def __init__(
        self, srv: ServerProcess, texts: list[str], concurrency: int, deadline_s: float = 30
    ) -> None:
        self.srv, self.texts, self.concurrency, self.deadline_s = srv, texts, concurrency, deadline_s
        self.outcomes: dict[str, dict[str, int]] = {"http": {}, "grpc": {}}
        self.latencies: list[float] = []
        self.stop = asyncio.Event()

    def count(self, protocol: str, outcome: str) -> None:
        self.outcomes[protocol][outcome] = self.outcomes[protocol].get(outcome, 0) + 1

    async def run(self) -> None:
        http = httpx.AsyncClient(base_url=self.srv.http, timeout=self.deadline_s, headers=AUTH)
        channel = grpc.aio.insecure_channel(self.srv.grpc)
        stub = pbg.DetectorServiceStub(channel)

        async def worker(protocol: str, k: int) -> None:
            i = k
            while not self.stop.is_set():
                text = self.texts[i % len(self.texts)]
                i += self.concurrency
                started = time.perf_counter()
                if protocol == "http":
                    try:
                        r = await http.post("/v1/score", json={"texts": [text]})
                        outcome = "ok" if r.status_code == 200 else str(r.status_code)
                    except httpx.TimeoutException:
                        outcome = "hung"
                    except httpx.HTTPError as e:
                        outcome = type(e).__name__
                else:
                    try:
                        await stub.Score(
                            pb.ScoreRequest(texts=[text]), metadata=GRPC_AUTH, timeout=self.deadline_s
                        )
                        outcome = "ok"
                    except grpc.aio.AioRpcError as e:
                        outcome = "hung" if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED else e.code().name
                if outcome == "ok":
                    self.latencies.append(time.perf_counter() - started)
                self.count(protocol, outcome)

        try:
            await asyncio.gather(*(worker(p, k) for p in ("http", "grpc") for k in range(self.concurrency)))
        finally:
            await http.aclose()
            await channel.close()

    def errors(self) -> dict[str, dict[str, int]]:
        return {p: {k: v for k, v in o.items() if k != "ok"} for p, o in self.outcomes.items()}

    def p99_ms(self) -> float | None:
        return float(np.percentile(self.latencies, 99) * 1000) if self.latencies else None


async def reload_under_load(bundle: str, texts: list[str], seconds: float, reloads: int) -> dict[str, Any]:
    srv = server(bundle, "--admin")
    load = Load(srv, texts, 8)
    answers: list[int] = []
    try:
        task = asyncio.create_task(load.run())
        async with httpx.AsyncClient(base_url=srv.http, timeout=120, headers=AUTH) as admin:
            for _ in range(reloads):
                await asyncio.sleep(seconds / (reloads + 1))
                answers.append((await admin.post("/admin/reload")).status_code)
        await asyncio.sleep(seconds / (reloads + 1))
        load.stop.set()
        await task
    finally:
        srv.stop()
    errors = load.errors()
    return {
        "seconds": seconds,
        "reload_statuses": answers,
        "outcomes": load.outcomes,
        "p99_ms": load.p99_ms(),
        "passed": all(s == 200 for s in answers) and not any(errors.values()),
    }


def process_tree(srv: ServerProcess) -> list[psutil.Process]:
    """The server and every process under it (forkserver, scoring processes, resource tracker)."""
    root = psutil.Process(srv.process.pid)
    return [root, *root.children(recursive=True)]


def scoring_processes(srv: ServerProcess) -> list[psutil.Process]:
    """The processes that score: under the forkserver (the server's forkserver child starts them), or
    the server's own children where processes are forked directly; never the resource tracker."""
    pid = srv.process.pid
    tree = psutil.Process(pid).children(recursive=True)

    def helper(p: psutil.Process) -> bool:
        cmd = " ".join(p.cmdline())
        return "resource_tracker" in cmd or ("forkserver" in cmd and p.ppid() == pid)

    return [p for p in tree if not helper(p)]


async def kill_under_load(bundle: str, texts: list[str], seconds: float) -> dict[str, Any]:
    from humanlike.serving.client import Client, ClientError

    srv = server(bundle, "--scoring-processes", "2")
    load = Load(srv, texts, 8)
    client_calls = {"ok": 0, "failed": 0}
    client_errors: dict[str, int] = {}
    stop_client = threading.Event()

    def client_loop() -> None:  # the product's client: a pipeline's view of the fault
        with Client(srv.grpc, token=TOKEN, timeout=60) as client:
            i = 0
            while not stop_client.is_set():
                try:
                    client.score([texts[i % len(texts)]])
                    client_calls["ok"] += 1
                except ClientError as e:
                    client_calls["failed"] += 1
                    client_errors[e.code] = client_errors.get(e.code, 0) + 1
                i += 1

    try:
        before = [p.pid for p in scoring_processes(srv)]
        task = asyncio.create_task(load.run())
        thread = threading.Thread(target=client_loop)
        thread.start()
        await asyncio.sleep(seconds / 3)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.perf_counter()
        recovered_s = None
        while time.perf_counter() - killed_at < 60:
            await asyncio.sleep(0.25)
            if _scores_once(srv):
                recovered_s = round(time.perf_counter() - killed_at, 2)
                break
        await asyncio.sleep(seconds / 3)
        # after recovery, a clean window: every request of it must be scored
        tail = Load(srv, texts, 4)
        tail_task = asyncio.create_task(tail.run())
        await asyncio.sleep(min(10.0, seconds / 3))
        tail.stop.set()
        load.stop.set()
        await asyncio.gather(task, tail_task)
        stop_client.set()
        thread.join(timeout=120)
        after = [p.pid for p in scoring_processes(srv)]
    finally:
        alive = srv.alive()
        srv.stop()
    errors = load.errors()
    allowed = {"503", "UNAVAILABLE"}
    other = {p: {k: v for k, v in e.items() if k not in allowed} for p, e in errors.items()}
    return {
        "seconds": seconds,
        "killed_pid": victim,
        "scoring_processes_before": len(before),
        "scoring_processes_after": len(after),
        "recovered_after_s": recovered_s,
        "outcomes_during": load.outcomes,
        "outcomes_after_recovery": tail.outcomes,
        "client_calls": client_calls,
        "client_errors": client_errors,
        "server_alive_after": alive,
        "passed": alive
        and recovered_s is not None
        and not any(other.values())
        and not any(tail.errors().values())
        and client_calls["failed"] == 0,
    }


async def soak(bundle: str, texts: list[str], minutes: float) -> dict[str, Any]:
    srv = server(bundle)
    load = Load(srv, texts, 4)
    samples: list[tuple[float, float]] = []
    try:
        task = asyncio.create_task(load.run())
        started = time.perf_counter()
        while time.perf_counter() - started < minutes * 60:
            await asyncio.sleep(5)
            rss = sum(p.memory_info().rss for p in process_tree(srv) if p.is_running())
            samples.append((time.perf_counter() - started, rss / 2**20))
        load.stop.set()
        await task
    finally:
        srv.stop()
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    first = rss[(t >= 60) & (t < 120)] if minutes >= 3 else rss[: max(1, len(rss) // 3)]
    last = rss[t >= t.max() - 60] if minutes >= 3 else rss[-max(1, len(rss) // 3) :]
    growth = float(np.median(last) / np.median(first) - 1)
    scored = sum(o.get("ok", 0) for o in load.outcomes.values())
    return {
        "minutes": minutes,
        "requests_scored": scored,
        "requests_per_s": round(scored / (minutes * 60), 1),
        "outcomes": load.outcomes,
        "p99_ms": load.p99_ms(),
        "rss_mib_first_minute_median": round(float(np.median(first)), 1),
        "rss_mib_last_minute_median": round(float(np.median(last)), 1),
        "rss_growth": round(growth, 4),
        "rss_samples_mib": [round(float(x), 1) for x in rss],
        "passed": not any(load.errors().values()) and abs(growth) <= 0.10,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=400)
    parser.add_argument("--fuzz", type=int, default=10_000, help="fuzzed requests per protocol")
    parser.add_argument("--seconds", type=float, default=30, help="load per reload / kill part")
    parser.add_argument("--reloads", type=int, default=3)
    parser.add_argument("--soak-minutes", type=float, default=10)
    parser.add_argument("--only", nargs="+", choices=["fuzz", "reload", "kill", "soak"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    from humanlike.training.data.corpus import resolve_corpus_paths, sample
    from humanlike.training.data.readers import load_corpus

    records, _ = load_corpus(resolve_corpus_paths(args.corpus))
    texts = [r.text[:4000] for r in sample(records, args.n_texts, seed=args.seed)]
    parts = args.only or ["fuzz", "reload", "kill", "soak"]
    result: dict[str, Any] = {
        "date": now(),
        "command": command(),
        "machine": machine(),
        "bundle": args.bundle,
        "parts": {},
    }
    runners = {
        "fuzz": lambda: fuzz(args.bundle, texts, args.fuzz, args.seed),
        "reload": lambda: reload_under_load(args.bundle, texts, args.seconds, args.reloads),
        "kill": lambda: kill_under_load(args.bundle, texts, args.seconds),
        "soak": lambda: soak(args.bundle, texts, args.soak_minutes),
    }
    for part in parts:
        started = time.perf_counter()
        print(f"{part}...", file=sys.stderr)
        result["parts"][part] = asyncio.run(runners[part]())
        result["parts"][part]["wall_s"] = round(time.perf_counter() - started, 1)
        print(f"{part}: passed={result['parts'][part]['passed']}", file=sys.stderr)
    result["passed"] = all(p["passed"] for p in result["parts"].values())
    suffix = "" if set(parts) == {"fuzz", "reload", "kill", "soak"} else "-" + "-".join(parts)
    write_result(args.out_dir, f"faults{suffix}", result)
    shutil.rmtree(TOKEN_FILE.parent, ignore_errors=True)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
