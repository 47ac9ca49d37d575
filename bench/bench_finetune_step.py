"""What each fine-tuning choice costs: training texts/s of the MiniLM classifier, side by side in one run.

    .venv/bin/python bench/bench_finetune_step.py [--threads 2] [--steps 4]

For each (window length, word embeddings frozen or not), times optimizer steps (forward, backward,
AdamW) on full-length batches of 16 random token ids, the worst case of the corpus's windows. The
configurations alternate within each round so that machine noise hits them alike; best of --rounds.
Writes bench/results/finetune-step-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from humanlike.training.pretrained import default_base_model

CONFIGS = [(128, False), (128, True), (256, True)]


def train_step(
    model: torch.nn.Module,
    ids: torch.Tensor,
    mask: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
) -> None:
    """One optimizer step, as training.transformer.fine_tune takes it (less gradient clipping)."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, 0]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    torch.autograd.backward(loss)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(default_base_model(), num_labels=1)
    model.train()
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for max_tokens, frozen in CONFIGS:
            model.base_model.embeddings.word_embeddings.weight.requires_grad_(not frozen)
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(params, lr=1e-5)
            ids = torch.randint(1000, 20000, (args.batch_size, max_tokens))
            mask = torch.ones_like(ids)
            y = torch.rand(args.batch_size)

            train_step(model, ids, mask, y, optimizer)  # warm-up: allocates optimizer state
            t = time.perf_counter()
            for _ in range(args.steps):
                train_step(model, ids, mask, y, optimizer)
            rate = args.steps * args.batch_size / (time.perf_counter() - t)
            key = f"max_tokens={max_tokens},embeddings_frozen={frozen}"
            best[key] = max(best.get(key, 0.0), rate)
            print(f"{key}: {rate:.1f} texts/s", file=sys.stderr)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"python": platform.python_version(), "threads": args.threads, "torch": torch.__version__},
        "batch_size": args.batch_size,
        "train_texts_per_s": {k: round(v, 1) for k, v in best.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"finetune-step-{result['date'][:10]}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
