"""`humanlike downstream` at its smoke size: every arm trains on the same budget, reproducibly."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from humanlike.training.data.schema import CorpusRecord
from humanlike.training.downstream import (
    SMOKE,
    Pools,
    ProxyLM,
    arm_texts,
    bits_per_byte,
    train_arm,
    train_tokenizer,
)


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory: pytest.TempPathFactory, corpus_paths: list[str]) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("downstream") / "report"
    args = ["downstream", "--corpus", *corpus_paths, "--out", str(out), "--size", "smoke"]
    result = subprocess.run([sys.executable, "-m", "humanlike", *args], capture_output=True, timeout=900)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return out, json.loads((out / "report.json").read_text())


@pytest.mark.slow  # the whole command: reads the corpus, trains a detector and five proxy LMs (torch)
def test_every_arm_trains_on_the_same_budget(smoke_report: tuple[Path, dict]) -> None:
    out, report = smoke_report
    assert set(report["arms"]) == set(SMOKE.arms)
    tokens = {name: arm["tokens"] for name, arm in report["arms"].items()}
    assert {t for ts in tokens.values() for t in ts} == {SMOKE.token_budget}, tokens
    for arm in report["arms"].values():
        assert len(arm["bpb_unseen"]) == len(SMOKE.seeds) == len(arm["bpb_in_domain"])
        assert all(0.5 < b < 20 and math.isfinite(b) for b in arm["bpb_unseen"] + arm["bpb_in_domain"])
        assert len(arm["curve"][0]) == SMOKE.curve_points
    comparison = report["comparison"]["bpb_unseen"]
    assert (
        "diff_to_random_ci" in comparison["llm-humanlike"] and "gap_closed_ci" in comparison["llm-humanlike"]
    )
    assert (out / "report.html").read_text().count("<tr>") == len(SMOKE.arms) + 1
    assert report["detector"].startswith("n-gram trained here")


def test_arms_take_their_order_up_to_the_budget() -> None:
    """On a synthetic pool: the curriculum arm follows the curriculum's order, the controls match its
    selection's lengths or mix with random texts, the scarce arms hold the human share."""

    def record(i: int, label: str, source: str, words: int) -> CorpusRecord:
        generator = "human" if label == "human" else f"g{i % 2}"
        text = " ".join([f"w{i}"] * words)
        return CorpusRecord(
            id=f"{label}{i}",
            text=text,
            label=label,
            data_type="free_form",
            source=source,
            generator=generator,
        )

    llm = [record(i, "llm", "a" if i < 10 else "b", 5 + 3 * (i % 4)) for i in range(40)]
    human = [record(i, "human", "a", 10) for i in range(40)]
    pools = Pools(human, llm, [], [], [], [])
    counts_h = [10] * 40
    counts_l = [5 + 3 * (i % 4) for i in range(40)]
    order = list(range(39, -1, -1))
    config = dataclasses.replace(SMOKE, token_budget=100, scarce_human_share=0.2)
    rng = np.random.default_rng(0)
    texts = arm_texts("llm-humanlike", pools, {"human-likeness": order}, counts_h, counts_l, config, rng)
    assert texts == [llm[i].text for i in order[: len(texts)]]
    assert (
        sum(counts_l[i] for i in order[: len(texts) - 1])
        < 100
        <= sum(counts_l[i] for i in order[: len(texts)])
    )
    chosen = order[: len(texts)]
    matched = arm_texts(
        "llm-random-mix-matched", pools, {"human-likeness": order}, counts_h, counts_l, config, rng
    )
    index = {r.text: i for i, r in enumerate(llm)}
    mix = Counter((llm[index[t]].source, llm[index[t]].generator) for t in matched)
    assert set(mix) <= {(llm[i].source, llm[i].generator) for i in chosen}  # only the selection's cells
    assert sum(counts_l[index[t]] for t in matched) >= 100  # and the whole budget
    wanted = Counter((llm[i].source, llm[i].generator) for i in chosen)
    for cell, n in mix.items():  # in the selection's proportions, to within one text
        assert abs(n - wanted[cell] / len(chosen) * len(matched)) <= 1, (cell, mix, wanted)
    scarce = arm_texts("scarce-humanlike", pools, {"human-likeness": order}, counts_h, counts_l, config, rng)
    assert sum(t.startswith("w") and t in {h.text for h in human} for t in scarce) == 2  # 20 of 100 tokens


def test_a_seed_gives_the_same_model_twice() -> None:
    texts = [
        f"The {w} sat by the window and watched the rain fall on the {w}s." for w in ("cat", "dog", "bird")
    ] * 40
    tokenizer = train_tokenizer(texts, 300)
    eot = tokenizer.token_to_id("<|endoftext|>")
    stream = np.concatenate([np.array([*e.ids, eot]) for e in tokenizer.encode_batch(texts)])
    runs = []
    for _ in range(2):
        model, _ = train_arm(stream, SMOKE, tokenizer.get_vocab_size(), 7, lambda m: 0.0)
        runs.append(bits_per_byte(model, tokenizer, texts[:5], eot))
    assert runs[0] == runs[1]
    other = ProxyLM(SMOKE, tokenizer.get_vocab_size(), 8)
    assert bits_per_byte(other, tokenizer, texts[:5], eot) != runs[0]
