"""Does the int8 MiniLM graph saturate on this CPU? fp32 against int8 with full-range and 7-bit weights.

    .venv/bin/python research/probe_int8_saturation.py [--n-texts 200] [--checkpoint DIR]

On x86 CPUs without VNNI (AVX2 only), ONNX Runtime's u8 x s8 GEMM adds pairs of products in
saturating int16, and full-range int8 weights can overflow it. It degraded the zero-shot LM's int8
graph (criterion correlation 0.43 with fp32's), whose SmoothQuant moves activation outliers into the
weights; the LM's graph now quantizes to 7 bits (``reduce_range``). The transformer bundle's graph
(:func:`humanlike.training.models.transformer_graph.quantize_int8`) keeps full-range weights: this
probe measures whether it should not.

The graph is the transformer bundle's (``to_onnx`` then ``fuse``, as ``export_bundles`` builds it) of
``--checkpoint`` (a fine-tuned classifier), or by default of the packaged all-MiniLM-L6-v2 with a
seeded, untrained one-logit head: saturation corrupts the encoder's states, which any head reads. Same
texts (a grouped corpus sample, up to 256 tokens) through each graph; reported: each int8 graph's
correlation with fp32's logits, its largest difference in units of fp32's standard deviation, and
texts/s. Writes ``research/results/int8-saturation-<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

from humanlike.detector.bundle import TOKENIZER_FILE
from humanlike.training.data.corpus import read_training_corpus, resolve_corpus_paths
from humanlike.training.models.transformer_graph import fuse, quantize_int8, to_onnx
from humanlike.training.pretrained import default_base_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # benchlib: how a result is recorded
from benchlib import command, machine, now, write_result

MAX_TOKENS = 256


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=200)
    parser.add_argument("--checkpoint", type=Path, help="a fine-tuned classifier (default: see above)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    torch.manual_seed(0)
    source = args.checkpoint or default_base_model()
    model = AutoModelForSequenceClassification.from_pretrained(
        str(source), num_labels=1, attn_implementation="eager"
    )
    tokenizer = Tokenizer.from_file(str(source / TOKENIZER_FILE))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    fp32 = fuse(to_onnx(model), model)
    graphs = {
        "fp32": fp32,
        "int8_full_range": quantize_int8(fp32),
        "int8_7bit": quantize_int8(fp32, reduce_range=True),
    }

    records, _, _ = read_training_corpus(resolve_corpus_paths(args.corpus), None, args.n_texts, 1)
    texts = [r.text for r in records]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    logits, seconds = {}, {}
    for name, graph in graphs.items():
        session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        started = time.perf_counter()
        logits[name] = np.concatenate(
            [run(session, tokenizer, texts[i : i + 16]) for i in range(0, len(texts), 16)]
        )
        seconds[name] = time.perf_counter() - started
    scale = float(logits["fp32"].std())
    result = {
        "benchmark": "int8 saturation of the transformer (MiniLM) graph",
        "date": now(),
        "command": command(),
        "machine": machine(intra_op_threads=args.threads, onnxruntime=ort.__version__),
        "graph_of": str(args.checkpoint) if args.checkpoint else "all-MiniLM-L6-v2, seeded untrained head",
        "n_texts": len(texts),
        "texts_per_s": {name: round(len(texts) / s, 1) for name, s in seconds.items()},
        "vs_fp32": {
            name: {
                "correlation": round(float(np.corrcoef(logits["fp32"], values)[0, 1]), 4),
                "max_abs_diff_in_fp32_std": round(float(np.abs(values - logits["fp32"]).max()) / scale, 3),
            }
            for name, values in logits.items()
            if name != "fp32"
        },
    }
    write_result(args.out, "int8-saturation", result)
    return 0


def run(session: ort.InferenceSession, tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    encodings = tokenizer.encode_batch(texts)
    feed = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    }
    (out,) = session.run(["llm_logit"], feed)
    return np.asarray(out, dtype=np.float64).ravel()


if __name__ == "__main__":
    sys.exit(main())
