"""Could the zero-shot statistics read fewer words? The criterion over a vocabulary subset, against all of it.

    .venv/bin/python research/probe_vocab_subset.py [--n-texts 120] [--sizes 2048 4096 8192 16384]

The LM head and the statistics over its logits are a quarter of the LM pass (``bench_lm_int8.py
--profile``), and both scale with the vocabulary (49,152 words). Computing them over the K most
frequent words only would cut that share by 1 - K / 49,152. This probe measures what it would cost:
for each K (words chosen by their frequency in ``--frequency-texts`` other corpus texts, or by id, as
BPE ids roughly follow merge order), on the first window (128 tokens) of each text, with the fp32 LM:

- the share of the LM's probability the subset holds, and the share of actual next words it contains;
- Fast-DetectGPT's criterion over the subset (each target's own logit added to the normaliser when it
  falls outside), its correlation with the full criterion, and its largest difference.

Writes ``research/results/vocab-subset-<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from humanlike.training.data.corpus import read_training_corpus, resolve_corpus_paths
from humanlike.training.models.lm import MAX_TOKENS, fast_detectgpt, load_lm, token_statistics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # benchlib: how a result is recorded
from benchlib import command, machine, now, write_result


def subset_criterion(logits: torch.Tensor, input_ids: torch.Tensor, subset: torch.Tensor) -> float:
    """Fast-DetectGPT's criterion of one window with the predictive distribution cut to ``subset``."""
    target = torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=1)
    counted = torch.ones_like(target, dtype=logits.dtype)
    counted[:, -1] = 0
    part = logits[:, :, subset]
    top = part.amax(-1)
    z = part - top.unsqueeze(-1)
    e = z.exp()
    s = e.sum(-1)
    target_z = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1) - top
    outside = ~torch.isin(target, subset)
    normaliser = s + torch.where(outside, target_z.exp(), torch.zeros_like(s))
    log_likelihood = target_z - normaliser.log()
    mean_z = (e * z).sum(-1) / s
    mean = mean_z - s.log()
    var = (e * z * z).sum(-1) / s - mean_z.square()
    numerator = ((log_likelihood - mean) * counted).sum()
    return float(numerator / (var * counted).sum().clamp(min=1e-6).sqrt())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=120)
    parser.add_argument("--frequency-texts", type=int, default=3000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192, 16384])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    lm, tokenizer = load_lm()
    vocabulary = lm.config.vocab_size
    paths = resolve_corpus_paths(args.corpus)
    records, _, _ = read_training_corpus(paths, None, args.n_texts, 3)
    others, _, _ = read_training_corpus(paths, None, args.frequency_texts, 7)
    seen = {r.text for r in records}
    frequency = np.zeros(vocabulary)
    for r in others:
        if r.text not in seen:
            np.add.at(frequency, tokenizer.encode(r.text).ids, 1)
    subsets = {
        (order, k): torch.arange(k) if order == "id" else torch.from_numpy(np.argsort(-frequency)[:k].copy())
        for order in ("frequency", "id")
        for k in args.sizes
    }
    full: list[float] = []
    approx: dict[tuple[str, int], list[float]] = {key: [] for key in subsets}
    mass: dict[tuple[str, int], list[float]] = {key: [] for key in subsets}
    targets_in: dict[tuple[str, int], list[float]] = {key: [] for key in subsets}
    with torch.no_grad():
        for record in records:
            ids = torch.tensor([tokenizer.encode(record.text).ids[:MAX_TOKENS]])
            logits = lm(input_ids=ids, use_cache=False).logits
            full.append(float(fast_detectgpt(token_statistics(logits, ids, torch.ones_like(ids)))))
            probabilities = logits[0, :-1].softmax(-1)
            for key, subset in subsets.items():
                mass[key].append(float(probabilities[:, subset].sum(-1).mean()))
                targets_in[key].append(float(torch.isin(ids[0, 1:], subset).float().mean()))
                approx[key].append(subset_criterion(logits, ids, subset))
    reference = np.array(full)
    result = {
        "benchmark": "zero-shot criterion over a vocabulary subset",
        "date": now(),
        "command": command(),
        "machine": machine(),
        "n_texts": len(records),
        "tokens_per_window": MAX_TOKENS,
        "vocabulary": vocabulary,
        "subsets": [
            {
                "order": order,
                "words": k,
                "head_and_statistics_cut": round(1 - k / vocabulary, 3),
                "probability_held": round(float(np.mean(mass[order, k])), 4),
                "next_words_held": round(float(np.mean(targets_in[order, k])), 4),
                "criterion_correlation": round(float(np.corrcoef(reference, approx[order, k])[0, 1]), 4),
                "criterion_max_abs_diff": round(
                    float(np.abs(reference - np.array(approx[order, k])).max()), 3
                ),
            }
            for order, k in subsets
        ],
    }
    write_result(args.out, "vocab-subset", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
