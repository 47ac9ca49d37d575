"""The transformer runtime against the Hugging Face ``transformers`` pipeline, side by side in one run.

    .venv/bin/python bench/bench_transformer.py --checkpoint CKPT --bundles BUNDLES [--threads 2]

Same model (the fine-tuned checkpoint and its exported fp32 / int8 bundles), same texts (a fixed,
grouped 2,000-text sample of the corpus, ``--seed 1``), same thread count. Reported:

- texts/s of ``Detector.score_texts`` (fp32 and int8) and of ``pipeline("text-classification")`` in
  PyTorch at batch sizes 1 and 16 (its best is the reference); the ratios runtime / pipeline, at
  equal work: the pipeline reads one window of ``max_tokens`` per text (it truncates), so both are
  given the texts cut at the end of their first window ("first_window");
- the runtime on the whole texts too ("whole_text": every window of every text, about twice the work
  on this sample), which is what a user of the runtime gets;
- achieved arithmetic rate (model FLOPs on the padded batches the runtime actually ran, per second)
  as a fraction of this machine's measured sgemm rate (numpy, a GEMM of the model's FFN shape).

Measurements alternate between contenders (round-robin, best of ``--repeats``) so that machine noise
hits all of them alike. Writes bench/results/transformer-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

THREADS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--bundles", type=Path, required=True, help="directory with fp32/ and int8/")
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    for name in THREADS_ENV:  # before numpy/torch load their thread pools
        os.environ[name] = str(args.threads)

    import numpy as np
    import torch
    from bench_baseline import cpu_model  # bench/ is on sys.path when a bench script runs
    from transformers import PreTrainedTokenizerFast, pipeline

    from humanlike.detector import Detector
    from humanlike.detector.runtime import plan_batches
    from humanlike.training.data.corpus import resolve_corpus_paths, sample
    from humanlike.training.data.readers import load_corpus
    from humanlike.training.models.transformer import load_checkpoint

    torch.set_num_threads(args.threads)
    paths = resolve_corpus_paths(args.corpus)
    records, _ = load_corpus(paths)
    texts = [r.text for r in sample(records, args.n_texts, args.seed)]

    model, meta = load_checkpoint(args.checkpoint)
    max_tokens = int(meta["training"]["config"]["max_tokens"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(args.checkpoint / "tokenizer.json"),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")

    def run_pipeline(batch_size: int) -> Callable[[], object]:
        return lambda: classifier(
            texts, batch_size=batch_size, truncation=True, max_length=max_tokens, function_to_apply="sigmoid"
        )

    detectors = {p: Detector(args.bundles / p, device="cpu", threads=args.threads) for p in ("fp32", "int8")}
    whole_texts = texts
    # Equal work: each text cut where its first window ends, so the runtime reads the one window the
    # pipeline reads (the pipeline gets the same cut texts).
    first_ends: dict[int, int] = {}
    for w in detectors["fp32"].windows(whole_texts):
        first_ends.setdefault(w.text_index, w.end)
    texts = [t[: first_ends[i]] for i, t in enumerate(whole_texts)]
    contenders: dict[str, Callable[[], object]] = {
        "runtime_fp32": lambda: detectors["fp32"].score_texts(texts),
        "runtime_int8": lambda: detectors["int8"].score_texts(texts),
        "pipeline_batch_1": run_pipeline(1),
        "pipeline_batch_16": run_pipeline(16),
        "runtime_fp32_whole_text": lambda: detectors["fp32"].score_texts(whole_texts),
        "runtime_int8_whole_text": lambda: detectors["int8"].score_texts(whole_texts),
    }
    seconds: dict[str, float] = {k: float("inf") for k in contenders}
    for _ in range(args.repeats):
        for name, fn in contenders.items():
            t = time.perf_counter()
            fn()
            seconds[name] = min(seconds[name], time.perf_counter() - t)
            print(f"{name}: {len(texts) / seconds[name]:.1f} texts/s", file=sys.stderr)
    rate = {k: len(texts) / v for k, v in seconds.items()}
    reference = max(rate["pipeline_batch_1"], rate["pipeline_batch_16"])

    # Work actually done by the runtime at equal work: its windows, padded in its batches.
    fp32 = detectors["fp32"]
    windows = fp32.windows(texts)
    assert len(windows) == len(texts), "cut texts should be one window each"
    batches = plan_batches([w.size for w in windows], fp32.max_batch_tokens, 64)
    config = model.config
    h, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    flops = 0.0
    for batch in batches:
        width = max(windows[i].size for i in batch)
        tokens = len(batch) * width
        # dense: QKV + output projection (4 h^2) and the FFN (2 h ffn), 2 FLOPs per multiply-add;
        # attention: QK^T and AV, 2 * 2 * width * h per token
        flops += layers * tokens * (2 * (4 * h * h + 2 * h * ffn) + 4 * width * h)
    real_tokens = sum(w.size for w in windows)
    padded_tokens = sum(len(b) * max(windows[i].size for i in b) for b in batches)

    a = np.random.default_rng(0).standard_normal((2048, h), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((h, ffn), dtype=np.float32)
    a @ b
    gemm_s = min(_time(lambda: a @ b) for _ in range(20))
    sgemm_flops = 2 * 2048 * h * ffn / gemm_s

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpu": cpu_model(),
            "usable_cores": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "python": platform.python_version(),
            "threads": args.threads,
        },
        "texts": {
            "n": len(texts),
            "seed": args.seed,
            "mean_chars_whole": round(float(np.mean([len(t) for t in whole_texts])), 1),
            "mean_chars_first_window": round(float(np.mean([len(t) for t in texts])), 1),
        },
        "work": {
            "first_window_real_tokens": real_tokens,
            "first_window_padded_tokens_in_runtime_batches": padded_tokens,
            "whole_text_windows": len(fp32.windows(whole_texts)),
            "max_tokens": max_tokens,
            "max_batch_tokens": fp32.max_batch_tokens,
        },
        "texts_per_s": {k: round(v, 1) for k, v in rate.items()},
        "ratio_vs_best_pipeline": {
            k: round(rate[k] / reference, 2) for k in ("runtime_fp32", "runtime_int8")
        },
        "arithmetic": {
            "sgemm_gflops": round(sgemm_flops / 1e9, 1),
            "runtime_fp32_gflops": round(flops / seconds["runtime_fp32"] / 1e9, 1),
            "runtime_int8_gflops_equivalent": round(flops / seconds["runtime_int8"] / 1e9, 1),
            "fp32_fraction_of_sgemm": round(flops / seconds["runtime_fp32"] / sgemm_flops, 2),
            "int8_fraction_of_sgemm": round(flops / seconds["runtime_int8"] / sgemm_flops, 2),
        },
        "bundles": str(args.bundles),
        "checkpoint": str(args.checkpoint),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"transformer-{result['date'][:10]}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
