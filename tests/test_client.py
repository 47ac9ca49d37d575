"""The public Python API against real things: ``Detector`` on a real bundle, ``Client`` on a real server.

The README's two examples are run here as written, with the bundle path and the server's address put in.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from humanlike import Client, ClientError, Detector
from tests.servers import Server

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(scope="module")
def server(bundle: Path) -> Iterator[Server]:
    with Server(bundle) as s:
        yield s


def test_readme_examples_run(bundle: Path, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    detector_example, client_example = readme_python_blocks()
    assert '"artifacts/baseline"' in detector_example and '"127.0.0.1:50051"' in client_example
    exec(detector_example.replace('"artifacts/baseline"', repr(str(bundle))), {})
    exec(client_example.replace('"127.0.0.1:50051"', repr(server.grpc_target)), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[3] == "ngram-linear"  # three lines of the Detector example, then the model's kind
    assert sum(line.startswith(tuple(str(i) + " " for i in range(100))) for line in printed[4:]) == 100


def test_client_scores_and_ranks_as_the_runtime_does(bundle: Path, server: Server) -> None:
    texts = ["The committee met on Tuesday.", "As an AI language model, I can help.", "ok so then we left"]
    local = Detector(bundle).score_texts(texts)
    with Client(server.grpc_target) as client:
        remote = client.score(texts)
        ranked = client.rank(texts)
        assert client.model().kind == "ngram-linear"
    assert [s.p_llm for s in remote] == pytest.approx([s.p_llm for s in local], abs=1e-6)
    assert [r.index for r in ranked] == [i for i, _ in Detector(bundle).rank_texts(texts)]


def test_score_stream_keeps_order_bounds_in_flight_and_reports_bad_messages(server: Server) -> None:
    pulled = 0
    max_in_flight = 2

    def messages() -> Iterator[list[str]]:
        nonlocal pulled
        for i in range(12):
            pulled += 1
            yield ["   "] if i == 5 else [f"Message {i}, one text.", f"Message {i}, another text."]

    seen: list[int] = []
    most_ahead = 0
    with Client(server.grpc_target) as client:
        for result in client.score_stream(messages(), max_in_flight=max_in_flight):
            most_ahead = max(most_ahead, pulled - len(seen))
            seen.append(result.index)
            if result.index == 5:
                assert result.error is not None and result.error.code == "INVALID_ARGUMENT"
            else:
                assert result.error is None and len(result.scores) == 2
    assert seen == list(range(12))
    assert most_ahead <= max_in_flight


def test_overload_is_retried_after_the_servers_retry_after(bundle: Path) -> None:
    # A queue of 2 texts refuses any 3-text request, each time with retry-after 1 s.
    with (
        Server(bundle, "--max-queue-texts", "2") as server,
        Client(server.grpc_target, max_retries=2) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ClientError) as refused:
            client.score(["one text", "two texts", "three texts"])
        assert refused.value.code == "RESOURCE_EXHAUSTED"
        assert time.monotonic() - started >= 2.0  # two waits of the server's retry-after
        before = server.metric("humanlike_errors_total", ['code="RESOURCE_EXHAUSTED"'])
        (result,) = client.score_stream([["one text", "two texts", "three texts"]])
        assert result.error is not None and result.error.code == "RESOURCE_EXHAUSTED"
        after = server.metric("humanlike_errors_total", ['code="RESOURCE_EXHAUSTED"'])
        assert after - before == 3  # the message and its two retries
        assert client.score(["fits"])[0].p_llm >= 0  # and a request that fits is served


def test_a_deadline_is_honoured(server: Server) -> None:
    with Client(server.grpc_target, timeout=1e-4) as client, pytest.raises(ClientError) as late:
        client.score(["A text that cannot be scored in a tenth of a millisecond."] * 50)
    assert late.value.code == "DEADLINE_EXCEEDED"
