"""The zero-shot LM pass in fp32 and quantized, same graph, same texts, one run: texts/s and AUROC.

    .venv/bin/python bench/bench_lm_int8.py [--corpus PATH] [--n-texts 240] [--threads 2]

Exports the zero-shot graph once (:func:`humanlike.training.models.zero_shot.zero_shot_draft`), makes
its quantized twins with :func:`humanlike.training.models.lm.quantize_lm` (``int8``: dynamic int8;
``q4``: 4-bit blocks with int8 activations; the LM head and the statistics stay fp32; ``int8-smooth``:
dynamic int8 of the LM smoothed first (:func:`humanlike.training.models.lm.smooth_for_int8`, on
``--calibration-texts`` other texts), exported again; ``int8-smooth-head``: the same with the LM head
in int8 too), writes them as
uncalibrated bundles, and scores the same grouped sample of labelled texts with each through the
runtime (round-robin, best of ``--repeats``). AUROC is of the raw criterion (calibration is monotone);
each scheme's AUROC difference from fp32 comes with a paired-bootstrap 95% interval.

``--profile`` adds one profiled pass per graph (ONNX Runtime's profiler) and splits its kernel time into
the LM's weight GEMMs (with their fused input quantization), the LM head's GEMM, the rest of the LM
(attention, rotary, norms, activations) and the statistics over the logits; from that, how fast each
quantized pass *could* be against fp32: with only its GEMMs faster, and with everything else free.
Writes ``bench/results/lm-int8-<date>.json``.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import (
    KernelTimes,
    command,
    logits_round_robin,
    machine,
    now,
    profile_kernels,
    write_result,
)
from sklearn.metrics import roc_auc_score

from humanlike.detector import Detector
from humanlike.detector.bundle import MODEL_FILE
from humanlike.training.build import DraftBundle, write_uncalibrated
from humanlike.training.data.corpus import labels_of, read_training_corpus, resolve_corpus_paths, texts_of
from humanlike.training.models.lm import MAX_TOKENS, load_lm, quantize_lm, smooth_for_int8
from humanlike.training.models.zero_shot import zero_shot_draft


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=240)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--reference",
        type=Path,
        help="an existing LM bundle to time and score beside them, named 'reference' (e.g. one built "
        "before a change to the graph)",
    )
    parser.add_argument("--calibration-texts", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=0.75, help="SmoothQuant's migration strength")
    schemes = ["int8", "q4", "int8-smooth", "int8-smooth-head"]
    parser.add_argument("--schemes", nargs="+", default=schemes, choices=schemes)
    parser.add_argument("--profile", action="store_true", help="where each graph's time goes")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    records, _, _ = read_training_corpus(resolve_corpus_paths(args.corpus), None, args.n_texts, 1)
    everything = np.arange(len(records))
    texts, labels = texts_of(records, everything), labels_of(records, everything)

    t = time.perf_counter()
    fp32 = zero_shot_draft()
    export_s = time.perf_counter() - t
    drafts = {"fp32": fp32}
    quantize_s, graph_mb = {}, {"fp32": round(len(fp32.files[MODEL_FILE]) / 2**20, 1)}
    smoothed = None
    if any(s.startswith("int8-smooth") for s in args.schemes):
        t = time.perf_counter()
        lm, tokenizer = load_lm()
        seen = set(texts)
        others, _, _ = read_training_corpus(
            resolve_corpus_paths(args.corpus), None, 4 * args.calibration_texts, 2
        )
        calibration = [r.text for r in others if r.text not in seen][: args.calibration_texts]
        smooth_for_int8(lm, [tokenizer.encode(x).ids[:MAX_TOKENS] for x in calibration], args.alpha)
        smoothed = zero_shot_draft(lm=(lm, tokenizer)).files[MODEL_FILE]
        smooth_s = time.perf_counter() - t
    for scheme in args.schemes:
        t = time.perf_counter()
        if scheme == "int8-smooth":
            graph = quantize_lm(smoothed, "int8")  # type: ignore[arg-type]
        elif scheme == "int8-smooth-head":
            graph = quantize_lm(smoothed, "int8", keep_fp32=())  # type: ignore[arg-type]
        else:
            graph = quantize_lm(fp32.files[MODEL_FILE], scheme)  # type: ignore[arg-type]
        quantize_s[scheme] = round(time.perf_counter() - t, 1)
        graph_mb[scheme] = round(len(graph) / 2**20, 1)
        drafts[scheme] = DraftBundle(
            kind="zero-shot",
            files={**fp32.files, MODEL_FILE: graph},
            windows=fp32.windows,
            precision="int8",
            training=fp32.training,
        )
    # ONNX Runtime maps the graphs it loaded; the files may go once the sessions exist (and the
    # profiled sessions of --profile have read them)
    work = Path(tempfile.mkdtemp(prefix="humanlike-bench-lm-int8-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # a run that fails leaves no 1 GB behind
    detectors = {}
    for name, draft in drafts.items():
        write_uncalibrated(draft, work / name, "bench: uncalibrated")
        detectors[name] = Detector(work / name, device="cpu", threads=args.threads)
    if not args.profile:
        shutil.rmtree(work)

    if args.reference:
        detectors = {"reference": Detector(args.reference, device="cpu", threads=args.threads), **detectors}

    logits, best = logits_round_robin(detectors, texts, args.repeats)
    auroc = {name: round(float(roc_auc_score(labels, value)), 4) for name, value in logits.items()}
    texts_per_s = {name: round(len(texts) / s, 2) for name, s in best.items()}
    result = {
        "benchmark": "zero-shot LM pass, fp32 vs int8",
        "date": now(),
        "command": command(),
        "machine": machine(intra_op_threads=detectors["fp32"].info.intra_op_threads),
        "n_texts": len(texts),
        "n_windows": len(detectors["fp32"].windows(texts)),
        "mean_chars": round(float(np.mean([len(x) for x in texts])), 1),
        "export_s": round(export_s, 1),
        "smooth_and_export_s": round(smooth_s, 1) if smoothed else None,
        "calibration_texts": args.calibration_texts if smoothed else None,
        "alpha": args.alpha if smoothed else None,
        "quantize_s": quantize_s,
        "graph_mb": graph_mb,
        "texts_per_s": texts_per_s,
        "auroc_raw_criterion": auroc,
        "vs_fp32": {
            s: {
                "speedup": round(texts_per_s[s] / texts_per_s["fp32"], 2),
                "auroc_delta": round(auroc[s] - auroc["fp32"], 4),
                "auroc_delta_95ci": paired_auroc_delta_ci(labels, logits["fp32"], logits[s]),
                "criterion_correlation": round(float(np.corrcoef(logits["fp32"], logits[s])[0, 1]), 5),
                "max_abs_criterion_diff": round(float(np.abs(logits["fp32"] - logits[s]).max()), 4),
            }
            for s in [*args.schemes, *(["reference"] if args.reference else [])]
        },
    }
    if args.profile:
        kernel_seconds = {
            name: time_by_part(profile_kernels(d, texts, args.threads)) for name, d in detectors.items()
        }
        result["kernel_seconds"] = kernel_seconds
        result["gemm_bound_vs_fp32"] = gemm_bounds(kernel_seconds)
        shutil.rmtree(work)
    write_result(args.out, "lm-int8", result)
    return 0


GEMM_OPS = {"MatMul", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "MatMulNBits"}


def time_by_part(profile: KernelTimes) -> dict[str, float]:
    """Kernel seconds of one profiled pass by part: the LM's weight GEMMs, the LM head's GEMM, the rest
    of the LM, and the statistics over the logits.

    A GEMM's int8 node (``DynamicQuantizeMatMul``) quantizes its input itself; an input shared by
    several GEMMs (q, k and v; gate and up) is quantized once by a ``DynamicQuantizeLinear`` named
    after the norm before it, which counts under the rest of the LM (under 1% of the int8 pass)."""
    parts = dict.fromkeys(("lm_weight_gemms", "lm_head_gemm", "lm_other", "logit_statistics"), 0.0)
    for node, op, seconds in profile.nodes:
        if "/lm/" not in node:
            part = "logit_statistics"
        elif "lm_head" in node and (op in GEMM_OPS or op == "DynamicQuantizeLinear"):
            part = "lm_head_gemm"
        elif "_proj/" in node and (op in GEMM_OPS or op == "DynamicQuantizeLinear"):
            part = "lm_weight_gemms"
        else:
            part = "lm_other"
        parts[part] += seconds
    parts = {k: round(v, 2) for k, v in parts.items()}
    return {**parts, "total": round(sum(parts.values()), 2), "wall": round(profile.wall_s, 2)}


def gemm_bounds(kernel_seconds: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """For each quantized graph, against fp32: its GEMMs' speed-up, the pass's speed-up were only the
    GEMMs to change (everything else as in fp32), and its ceiling were everything but its GEMMs free."""
    fp32 = kernel_seconds["fp32"]

    def gemms(k: dict[str, float]) -> float:
        return k["lm_weight_gemms"] + k["lm_head_gemm"]

    return {
        name: {
            "gemm_speedup": round(gemms(fp32) / gemms(k), 2),
            "pass_speedup_with_fp32_rest": round(fp32["total"] / (gemms(k) + fp32["total"] - gemms(fp32)), 2),
            "pass_speedup_ceiling_rest_free": round(fp32["total"] / gemms(k), 2),
            "measured_kernel_speedup": round(fp32["total"] / k["total"], 2),
        }
        for name, k in kernel_seconds.items()
        if name != "fp32"
    }


def paired_auroc_delta_ci(
    labels: np.ndarray, base: np.ndarray, other: np.ndarray, reps: int = 2000, seed: int = 0
) -> list[float]:
    """95% interval of ``AUROC(other) - AUROC(base)``, the same texts resampled for both (a paired
    bootstrap): whether a difference is the graph's or the sample's."""
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(reps):
        i = rng.integers(0, len(labels), len(labels))
        if labels[i].min() == labels[i].max():
            continue
        deltas.append(roc_auc_score(labels[i], other[i]) - roc_auc_score(labels[i], base[i]))
    low, high = np.quantile(deltas, [0.025, 0.975])
    return [round(float(low), 4), round(float(high), 4)]


if __name__ == "__main__":
    sys.exit(main())
