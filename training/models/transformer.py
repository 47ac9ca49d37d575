"""Fine-tuning the packaged all-MiniLM-L6-v2 encoder as a human-vs-LLM classifier.

The model is ``BertForSequenceClassification`` with one output: the log-odds of "llm" (``llm_logit``),
trained with binary cross-entropy. It sees text as token windows of ``max_tokens``; a text longer than
one window is split into windows overlapping by ``window_overlap`` tokens (the tokenizer's own overflow
handling), exactly as the runtime splits it. Each training step sees one window per text, drawn at
random, so the model learns to judge any part of a document, not only its opening.

The choices that make it fit a CPU budget (see :class:`TransformerConfig`; costs in docs/detectors.md):

- ``max_tokens=128``: attention and activations grow with length; 128 is the length the encoder was
  trained at. Long texts are still read whole at inference, window by window.
- the word-embedding matrix (12M of the 22M parameters) is frozen: it saves its gradient and optimizer
  state, which on CPU is a large share of a step, and keeps the pretrained vocabulary intact.
- one pass over at most ``max_train_texts`` texts, batches grouped by length to cut padding, validation
  AUROC every ``eval_every`` steps with early stopping, and a wall-clock budget as a last stop.

A checkpoint is a directory: ``model.safetensors`` + ``config.json`` (``save_pretrained``; no pickle),
``tokenizer.json``, and ``checkpoint.json`` (config, split, corpus fingerprint, history). ``humanlike
export`` turns it into calibrated fp32 and int8 bundles.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tokenizers import Encoding, Tokenizer
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, PreTrainedModel
from transformers.utils import logging as hf_logging

from humanlike.detector.atomic import atomic_directory, check_output_directory
from humanlike.detector.bundle import TOKENIZER_FILE, CorpusFingerprint
from humanlike.detector.devices import Device
from humanlike.detector.runtime import usable_cores
from humanlike.training.config import TransformerConfig
from humanlike.training.data.corpus import labels_of, read_training_corpus, sample_indices, texts_of
from humanlike.training.data.readers import FieldMapping
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import TrainSplits, holdout_split, make_splits
from humanlike.training.kinds import DetectorKind
from humanlike.training.pretrained import default_base_model
from humanlike.training.torch_device import torch_device

if TYPE_CHECKING:
    from humanlike.training.build import DraftBundle

log = logging.getLogger("humanlike.transformer")
# Loading the encoder reports the fresh classification head as "missing" weights: expected, not news.
hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

CHECKPOINT_FILE = "checkpoint.json"


@dataclass
class FineTuneResult:
    model: PreTrainedModel
    best_step: int
    best_val_auroc: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_because: str = ""
    train_texts: int = 0
    validation_texts: int = 0
    train_windows_seen: int = 0
    train_s: float = 0.0


def window_tokenizer(tokenizer_file: Path, max_tokens: int, overlap: int) -> Tokenizer:
    """The tokenizer with the runtime's windowing: truncation at ``max_tokens`` with overflow windows.

    The stride of the tokenizers library is the number of tokens shared by consecutive windows.
    """
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens, stride=overlap)
    return tokenizer


def windows_of(encoding: Encoding) -> list[Encoding]:
    """A text's windows: the first, then its overflow, in order."""
    return [encoding, *encoding.overflowing]


def _pad(windows: Sequence[Encoding], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(w.ids) for w in windows)
    ids = np.zeros((len(windows), width), dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=np.int64)
    for row, w in enumerate(windows):
        ids[row, : len(w.ids)] = w.ids
        mask[row, : len(w.ids)] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


def _length_grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Random batches of similar length: shuffle, sort within chunks of 50 batches, shuffle the batches.

    Padding to the longest text of a batch is most of the waste with mixed data types; this keeps
    each batch's lengths close while the order stays random (as Hugging Face's ``group_by_length``).
    """
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


@torch.inference_mode()
def window_logits(
    model: PreTrainedModel, windows: Sequence[Encoding], device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """``llm_logit`` of each window (length-sorted batches), in input order."""
    model.train(False)
    out = np.empty(len(windows), dtype=np.float64)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = _pad([windows[i] for i in idx], device)
        out[idx] = model(input_ids=ids, attention_mask=mask).logits[:, 0].float().cpu().numpy()
    return out


def text_logits(
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    device: torch.device,
    batch_size: int = 64,
) -> np.ndarray:
    """Each text's logit read as the runtime reads it: all its windows, size-weighted mean of logits."""
    from humanlike.detector.inputs import Window
    from humanlike.detector.runtime import aggregate_windows

    encodings = [windows_of(e) for e in tokenizer.encode_batch(list(texts))]
    flat = [w for ws in encodings for w in ws]
    spans = [
        Window(text_index=i, start=0, end=0, size=len(w.ids)) for i, ws in enumerate(encodings) for w in ws
    ]
    return aggregate_windows(spans, window_logits(model, flat, device, batch_size), len(texts))


def fine_tune(
    train_texts: Sequence[str],
    train_labels: np.ndarray,
    val_texts: Sequence[str],
    val_labels: np.ndarray,
    *,
    base_model: Path,
    config: TransformerConfig,
    device: torch.device,
    progress: bool = True,
) -> FineTuneResult:
    """Fine-tunes ``base_model`` and returns it with the weights of its best validation AUROC.

    Validation scores each text's first window, which is cheap enough to run every ``eval_every`` steps;
    the exported bundle is evaluated on whole texts afterwards.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if device.type == "cpu":
        torch.set_num_threads(usable_cores())
    tokenizer = window_tokenizer(base_model / TOKENIZER_FILE, config.max_tokens, config.window_overlap)
    train_windows = [windows_of(e) for e in tokenizer.encode_batch(list(train_texts))]
    val_first = [e for e in tokenizer.encode_batch(list(val_texts))]
    y_train = torch.tensor(np.asarray(train_labels), dtype=torch.float32)

    model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1).to(device)
    if config.freeze_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)

    batches_per_epoch = -(-len(train_windows) // config.batch_size)
    total_steps = batches_per_epoch * config.epochs
    warmup = max(1, int(config.warmup_fraction * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )

    best = FineTuneResult(
        model=model,
        best_step=0,
        best_val_auroc=-1.0,
        train_texts=len(train_windows),
        validation_texts=len(val_first),
    )
    best_state: dict[str, torch.Tensor] | None = None
    evals_without_gain = 0
    started = time.perf_counter()
    seen = 0
    step = 0
    bar = tqdm(total=total_steps, desc="fine-tune", disable=not progress, unit="step")

    def validate() -> bool:
        """Records a validation point; returns False when training should stop (patience spent)."""
        nonlocal best_state, evals_without_gain
        auroc = float(roc_auc_score(val_labels, window_logits(model, val_first, device)))
        elapsed = time.perf_counter() - started
        best.history.append({"step": step, "val_auroc": auroc, "elapsed_s": round(elapsed, 1)})
        log.info("step %d: validation AUROC %.4f (%.0f s)", step, auroc, elapsed)
        bar.set_postfix_str(f"val_auroc={auroc:.4f}", refresh=False)
        if auroc > best.best_val_auroc:
            best.best_val_auroc, best.best_step = auroc, step
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            evals_without_gain = 0
            return True
        evals_without_gain += 1
        return evals_without_gain < config.patience

    stop = ""
    for epoch in range(config.epochs):
        # one random window per text per epoch
        picks = [w[rng.integers(len(w))] for w in train_windows]
        lengths = np.array([len(w.ids) for w in picks])
        for batch in _length_grouped_batches(lengths, config.batch_size, rng):
            model.train()
            ids, mask = _pad([picks[i] for i in batch], device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_train[batch].to(device))
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(batch)
            bar.update()
            rate = seen / (time.perf_counter() - started)
            bar.set_postfix_str(f"epoch={epoch} loss={loss.item():.3f} texts/s={rate:.1f}", refresh=False)
            if step % config.eval_every == 0 and not validate():
                stop = f"early stop: no validation gain in {config.patience} evaluations"
                break
            if config.time_budget_s is not None and time.perf_counter() - started > config.time_budget_s:
                stop = f"time budget of {config.time_budget_s:.0f} s spent"
                break
        if stop:
            break
    if not stop:
        stop = f"{config.epochs} epoch(s) done"
    if not best.history or best.history[-1]["step"] != step:
        validate()
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    best.stopped_because = stop
    best.train_windows_seen = seen
    best.train_s = time.perf_counter() - started
    return best


def split_for_fine_tuning(
    records: Sequence[CorpusRecord], train: np.ndarray, config: TransformerConfig, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) out of a training split: a grouped validation set of about
    ``config.validation_texts``, the rest capped at ``config.max_train_texts`` (whole groups, stratified).
    The calibration split and the hold-out stay untouched."""
    sub = [records[i] for i in train]
    rest, val = holdout_split(sub, min(0.5, config.validation_texts / max(1, len(sub))), seed + 7)
    return sample_indices(records, train[rest], config.max_train_texts, seed), train[val]


def fine_tune_on_split(
    records: Sequence[CorpusRecord],
    train: np.ndarray,
    base_model: Path,
    config: TransformerConfig,
    device: torch.device,
    seed: int,
    progress: bool = True,
) -> FineTuneResult:
    """:func:`fine_tune` on a training split of ``records``, validating on a grouped part of it."""
    fit, val = split_for_fine_tuning(records, train, config, seed)
    return fine_tune_on(
        records, fit, val, base_model=base_model, config=config, device=device, progress=progress
    )


def fine_tune_on(
    records: Sequence[CorpusRecord],
    fit: np.ndarray,
    val: np.ndarray,
    *,
    base_model: Path,
    config: TransformerConfig,
    device: torch.device,
    progress: bool = True,
) -> FineTuneResult:
    """:func:`fine_tune` on the records at ``fit``, validating on those at ``val``."""
    return fine_tune(
        texts_of(records, fit),
        labels_of(records, fit),
        texts_of(records, val),
        labels_of(records, val),
        base_model=base_model,
        config=config,
        device=device,
        progress=progress,
    )


class TransformerDetector(DetectorKind):
    """The ``transformer`` kind as an estimator: the encoder fine-tuned on ``records`` (validating on
    ``validation``, or on a grouped part of ``records`` set apart, as ``humanlike train --model
    transformer`` does), scoring whole texts window by window as the runtime reads them.

    Its bundles come from a checkpoint (:func:`train_transformer_checkpoint`, then ``humanlike export``
    for fp32 and int8), not from :meth:`draft_bundle`.
    """

    name = "transformer"
    recipe_key = "transformer"

    def __init__(
        self,
        config: TransformerConfig = TransformerConfig(),
        device: Device = "auto",
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.config = config
        self.device = device
        self.seed = seed
        self.progress = progress

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        base, self.device_ = default_base_model(), torch_device(self.device)
        if validation is None:
            fit_idx, val_idx = split_for_fine_tuning(records, np.arange(len(records)), self.config, self.seed)
            fitted, validation = [records[i] for i in fit_idx], [records[i] for i in val_idx]
        else:
            fitted = list(records)
        result = fine_tune(
            [r.text for r in fitted],
            labels_of(fitted),
            [r.text for r in validation],
            labels_of(validation),
            base_model=base,
            config=self.config,
            device=self.device_,
            progress=self.progress,
        )
        self.model_ = result.model
        self.tokenizer_ = window_tokenizer(
            base / TOKENIZER_FILE, self.config.max_tokens, self.config.window_overlap
        )
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return text_logits(self.model_, self.tokenizer_, texts, self.device_)

    def draft_bundle(self) -> DraftBundle:
        raise NotImplementedError(
            "the transformer's bundles are exported from its checkpoint: humanlike train --model "
            "transformer, then humanlike export"
        )


def train_transformer_checkpoint(
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    seed: int = 0,
    holdout_fraction: float = 0.1,
    calibration_fraction: float = 0.1,
    config: TransformerConfig | None = None,
    base_model: Path | None = None,
    mapping: FieldMapping | None = None,
    sample_size: int | None = None,
    device: Device = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Reads the corpus, fine-tunes the encoder on the training split and writes a checkpoint to ``out``.

    The splits are the baseline's (:func:`humanlike.training.build.make_splits`, same seed, same
    fractions), so the
    two models are evaluated on the same hold-out texts. Returns the checkpoint's ``checkpoint.json``.
    """
    check_output_directory(out, "transformer-checkpoint")
    config = config or TransformerConfig(seed=seed)
    base = base_model or default_base_model()
    t0 = time.perf_counter()
    records, corpus, report = read_training_corpus(corpus_paths, mapping, sample_size, seed)
    splits = make_splits(records, seed, holdout_fraction, calibration_fraction)
    read_s = time.perf_counter() - t0

    on = torch_device(device)
    result = fine_tune_on_split(records, splits.train, base, config, on, seed, progress)
    meta = _checkpoint_meta(
        config, base, corpus, splits, seed, holdout_fraction, calibration_fraction, result
    )
    meta["training"].update(
        {
            "device": str(on),
            "threads": torch.get_num_threads(),
            "n_validation": result.validation_texts,
            "sample_size": sample_size,
            "read_issues": report.n_issues,
            "timings": {"read_s": round(read_s, 1), "fine_tune_s": round(result.train_s, 1)},
        }
    )
    save_checkpoint(out, result.model, base / TOKENIZER_FILE, meta)
    return meta


def _checkpoint_meta(
    config: TransformerConfig,
    base: Path,
    corpus: CorpusFingerprint,
    splits: TrainSplits,
    seed: int,
    holdout_fraction: float,
    calibration_fraction: float,
    result: FineTuneResult,
) -> dict[str, Any]:
    split = splits.spec(seed, holdout_fraction, calibration_fraction)
    return {
        "format": "humanlike-transformer-checkpoint",
        "base_model": base.name if base.name != "model" else base.parent.name,
        "corpus": corpus.model_dump(),
        "split": split.model_dump(),
        "training": {
            "config": config.as_dict(),
            "n_train_texts": result.train_texts,
            "windows_seen": result.train_windows_seen,
            "best_step": result.best_step,
            "best_val_auroc": round(result.best_val_auroc, 5),
            "stopped_because": result.stopped_because,
            "history": result.history,
        },
    }


def save_checkpoint(
    out: str | Path, model: PreTrainedModel, tokenizer_file: Path, meta: dict[str, Any]
) -> Path:
    """Writes the checkpoint directory (safetensors weights, tokenizer, checkpoint.json) atomically."""
    target = Path(out)
    with atomic_directory(
        target, "transformer-checkpoint"
    ) as staging:  # the old checkpoint stays whole until the new one is
        model.save_pretrained(staging, safe_serialization=True)
        shutil.copyfile(tokenizer_file, staging / TOKENIZER_FILE)
        (staging / CHECKPOINT_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target


def load_checkpoint(
    path: str | Path, attn_implementation: str | None = None
) -> tuple[PreTrainedModel, dict[str, Any]]:
    """The fine-tuned model (eval mode, CPU) and its ``checkpoint.json``.

    ``attn_implementation`` picks the attention code (``"eager"``, ``"sdpa"``); same weights, same math.

    Raises:
        FileNotFoundError: ``path`` is not a checkpoint written by :func:`save_checkpoint`.
    """
    root = Path(path)
    meta_file = root / CHECKPOINT_FILE
    if not meta_file.is_file():
        raise FileNotFoundError(f"{root} is not a humanlike transformer checkpoint (no {CHECKPOINT_FILE})")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    model = AutoModelForSequenceClassification.from_pretrained(
        root, num_labels=1, attn_implementation=attn_implementation
    )
    model.train(False)
    return model, meta
