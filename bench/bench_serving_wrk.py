"""HTTP serving against the raw runtime with compiled load generators: `wrk` (closed loop) and `hey`
(a 10x overload), loopback, bounded in time.

    .venv/bin/python bench/bench_serving_wrk.py artifacts/baseline [--seconds 10] [--texts-per-request 1 16]

1. Raw runtime: ``Detector.score_texts`` (batch 64) on the same texts, in this process, best of 3.
2. For each ``--texts-per-request`` k: ``wrk -c 32`` against ``humanlike serve`` with default settings
   (dynamic batching) and against one with batches of one window and no wait (``--max-batch-size 1
   --max-wait-ms 0``), each with the default scoring backend (``--scoring-processes auto``: one scoring
   process per core for an n-gram bundle) and with graph calls on the server's own thread
   (``--scoring-processes 0``, the only backend before 2026-12-01); every request's body is the next k
   texts of the same list (a Lua script cycles through them), so the server scores the texts the raw
   runtime scored. texts/s = requests/s x k.
3. Overload: ``hey`` at 10x the measured dynamic-batching request rate, 200 workers, against a server
   with ``--max-queue-texts 64``: every answer must be 200 or 429 (hey lists any other status and any
   connection error), and the server must be ready afterwards.

The server and the load generator share the machine's cores. Writes bench/results/serving-wrk-<date>.json.
`apt-get install wrk hey` (Debian) provides the tools.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from bench_serving import ServerProcess
from benchlib import command, machine, now, write_result

from humanlike.detector import Detector
from humanlike.training.data.corpus import read_training_corpus, resolve_corpus_paths

BATCH_OF_ONE = ("--max-batch-size", "1", "--max-wait-ms", "0")
IN_PROCESS = ("--scoring-processes", "0")

LUA = """
bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
counter = 0
request = function()
  counter = counter + 1
  local body = bodies[(counter %% #bodies) + 1]
  return wrk.format("POST", "/v1/score", {["Content-Type"] = "application/json"}, body)
end
"""


def run_wrk(url: str, script: Path, seconds: int, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {
        "requests_per_s": rps,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
        "p50_ms": round(float(p50.group(1)) * scale[p50.group(2)], 2) if p50 else None,
        "p99_ms": round(float(p99.group(1)) * scale[p99.group(2)], 2) if p99 else None,
    }


def run_hey(url: str, body: Path, seconds: int, workers: int, rate_per_worker: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            "hey",
            "-z",
            f"{seconds}s",
            "-c",
            str(workers),
            "-q",
            f"{rate_per_worker:.2f}",
            "-m",
            "POST",
            "-T",
            "application/json",
            "-D",
            str(body),
            f"{url}/v1/score",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    codes = {m.group(1): int(m.group(2)) for m in re.finditer(r"\[(\d{3})\]\s+(\d+) responses", out)}
    errors_section = out.split("Error distribution:")[1] if "Error distribution:" in out else ""
    errors = {m.group(2).strip(): int(m.group(1)) for m in re.finditer(r"\[(\d+)\]\s+(.+)", errors_section)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {"status_codes": codes, "errors": errors, "requests_per_s": float(rps.group(1)) if rps else None}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bundle")
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--texts-per-request", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install {tool})")

    records, _, _ = read_training_corpus(resolve_corpus_paths(args.corpus), None, args.n_texts, 1)
    texts = [r.text for r in records if r.text.strip()][: args.n_texts]
    detector = Detector(args.bundle, device="cpu")
    detector.score_texts(texts[:64])
    raw_s = min(_timed(lambda: detector.score_texts(texts, batch_size=64)) for _ in range(3))
    raw = len(texts) / raw_s

    work = Path(tempfile.mkdtemp(prefix="humanlike-bench-wrk-"))
    levels: list[dict[str, Any]] = []
    for k in args.texts_per_request:
        bodies = work / f"bodies-{k}.jsonl"
        bodies.write_text(
            "".join(json.dumps({"texts": texts[i : i + k]}) + "\n" for i in range(0, len(texts) - k + 1, k))
        )
        script = work / f"score-{k}.lua"
        script.write_text(LUA % bodies)
        for server, flags in (
            ("dynamic batching", ()),
            ("batch of one", BATCH_OF_ONE),
            ("dynamic batching, in process", IN_PROCESS),
            ("batch of one, in process", (*BATCH_OF_ONE, *IN_PROCESS)),
        ):
            serve = ServerProcess(args.bundle, None, *flags)
            try:
                run_wrk(serve.http, script, 2, args.concurrency)  # warm-up
                result = run_wrk(serve.http, script, args.seconds, args.concurrency)
            finally:
                serve.stop()
            result.update(
                server=server,
                texts_per_request=k,
                concurrency=args.concurrency,
                texts_per_s=round(result["requests_per_s"] * k, 1),
                of_raw=round(result["requests_per_s"] * k / raw, 2),
            )
            levels.append(result)
            print(json.dumps(result), file=sys.stderr)

    # 10x the request rate of the first level measured with dynamic batching, with its request size.
    base = next(r for r in levels if r["server"] == "dynamic batching")
    body = work / "overload.json"
    body.write_text(json.dumps({"texts": texts[: base["texts_per_request"]]}))
    offered = 10 * base["requests_per_s"]
    serve = ServerProcess(args.bundle, None, "--max-queue-texts", "64")
    try:
        overload = run_hey(serve.http, body, args.seconds, 200, offered / 200)
        overload.update(
            texts_per_request=base["texts_per_request"],
            offered_requests_per_s=round(offered, 1),
            ready_after=httpx.get(f"{serve.http}/readyz").status_code == 200,
        )
    finally:
        serve.stop()

    result = {
        "benchmark": "serving over HTTP with wrk and hey",
        "date": now(),
        "command": command(),
        "machine": machine(),
        "bundle": args.bundle,
        "n_texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "raw_runtime_texts_per_s": round(raw, 1),
        "levels": levels,
        "batching_gain": {str(k): _gain(levels, k, "") for k in args.texts_per_request},
        "batching_gain_in_process": {
            str(k): _gain(levels, k, ", in process") for k in args.texts_per_request
        },
        "overload_10x": overload,
    }
    write_result(args.out, "serving-wrk", result)
    return 0


def _gain(levels: list[dict[str, Any]], k: int, backend: str) -> float:
    """texts/s with dynamic batching over texts/s with batches of one, same backend, k texts a request."""

    def rate(server: str) -> float:
        return float(
            next(r for r in levels if r["texts_per_request"] == k and r["server"] == server)["texts_per_s"]
        )

    return round(rate("dynamic batching" + backend) / rate("batch of one" + backend), 2)


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
