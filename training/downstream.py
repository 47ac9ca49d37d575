"""Does a curriculum ordered by a detector train a better model? Small proxy models, one per arm.

The regurgitative-training question at CPU scale, in the manner of data-selection work (DataComp-LM):
train the same small causal transformer from scratch on each *arm*, a selection of training texts
at one fixed token budget, and measure how well each model fits human text it never saw.

Data (free-form texts of the corpus, split by source so that nothing leaks):

- ``eval_sources``: their human texts are the *unseen-source* evaluation; nothing else reads them;
- ``pool_sources``: the arms' pools, LLM and human; a grouped share of their human texts (with every
  text paired to them) is set apart as the *in-domain* evaluation;
- every other source: the detector that orders the arms is trained on them (unless a bundle is
  given), and the BPE tokenizer on their human texts, so neither has seen an evaluation text.

Arms (same budget, same steps, same initialisation per seed; the LLM-curriculum arms go through the
product's own :func:`humanlike.curriculum.pipeline.build_curriculum`, first rows first):

- ``human``: human texts of the pool, random order (the real-data ceiling);
- ``llm-random``: LLM texts, random order (regurgitative training);
- ``llm-humanlike``, ``llm-quality``, ``llm-mixing``, ``llm-combined``: the curriculum strategies
  ``human-likeness``, ``quality``, ``mixed-generators``, ``combined``;
- ``llm-random-length-matched``, ``llm-random-mix-matched``: random LLM texts with the length
  distribution, or the source and generator mix, of ``llm-humanlike``'s selection (controls: how much of
  a gain is the order itself);
- ``scarce-random``, ``scarce-humanlike``: ``scarce_human_share`` of the budget human texts, topped
  up with LLM texts as ``llm-random`` or ``llm-humanlike`` choose them.

Measured per arm and seed: bits per byte (tokenizer-free) on the two evaluation sets, a learning curve,
and the lexical diversity (MTLD, distinct-2) of the model's samples.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humanlike.training.data.readers import load_corpus
from humanlike.training.data.schema import CorpusRecord

ARMS = (
    "human",
    "llm-random",
    "llm-humanlike",
    "llm-quality",
    "llm-mixing",
    "llm-combined",
    "llm-random-length-matched",
    "llm-random-mix-matched",
    "scarce-random",
    "scarce-humanlike",
)
STRATEGY_OF = {
    "llm-humanlike": "human-likeness",
    "llm-quality": "quality",
    "llm-mixing": "mixed-generators",
    "llm-combined": "combined",
}


@dataclass(frozen=True)
class DownstreamConfig:
    """The experiment's sizes. The default (3 seeds, every arm) is sized for an hour on a small CPU
    (what it took: docs/downstream.md); :data:`SMOKE` is the plumbing test's size."""

    eval_sources: tuple[str, ...] = ("detectrl", "lorenz", "sakibsh")
    pool_sources: tuple[str, ...] = (
        "biscope",
        "l2r",
        "misinfo",
        "raidar",
        "comnets",
        "hc3plus_si",
        "argugpt",
    )
    token_budget: int = 250_000
    max_pool_llm: int = 20_000
    scarce_human_share: float = 0.2
    eval_texts: int = 200
    in_domain_fraction: float = 0.1
    vocab_size: int = 4096
    context: int = 128
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    batch_size: int = 16
    learning_rate: float = 3e-3
    curve_points: int = 6
    samples: int = 10
    sample_tokens: int = 48
    seeds: tuple[int, ...] = (0, 1, 2)
    arms: tuple[str, ...] = ARMS
    detector_sample: int = 12_000


GPU = DownstreamConfig(token_budget=2_500_000, max_pool_llm=40_000, eval_texts=400, samples=20)
"""The same arms at ten times the budget, for a CUDA machine (not yet run: none was lent)."""

SMOKE = DownstreamConfig(
    token_budget=20_000,
    max_pool_llm=1_500,
    eval_texts=30,
    vocab_size=512,
    context=64,
    d_model=32,
    layers=1,
    heads=2,
    curve_points=2,
    samples=3,
    sample_tokens=20,
    seeds=(0,),
    arms=("human", "llm-random", "llm-humanlike", "scarce-humanlike", "llm-random-length-matched"),
    detector_sample=1_500,
)


@dataclass
class Pools:
    human: list[CorpusRecord]
    llm: list[CorpusRecord]
    eval_unseen: list[str]
    eval_in_domain: list[str]
    tokenizer_texts: list[str]
    detector_records: list[CorpusRecord]


def make_pools(records: Sequence[CorpusRecord], config: DownstreamConfig, seed: int = 0) -> Pools:
    """Splits the corpus's free-form texts by source and group (see the module docstring)."""
    rng = np.random.default_rng(seed)
    free = [r for r in records if r.data_type == "free_form"]
    unseen = [r.text for r in free if r.source in config.eval_sources and r.label == "human"]
    pool = [r for r in free if r.source in config.pool_sources]
    if not unseen or not pool:
        raise ValueError(
            "no evaluation or pool texts: check eval_sources and pool_sources against the corpus"
        )
    human_groups = sorted({r.group for r in pool if r.label == "human"})
    held = set(
        rng.permutation(human_groups)[: max(1, round(config.in_domain_fraction * len(human_groups)))].tolist()
    )
    in_domain = [r.text for r in pool if r.group in held and r.label == "human"]
    human = [r for r in pool if r.group not in held and r.label == "human"]
    llm = [r for r in pool if r.group not in held and r.label == "llm"]
    if len(llm) > config.max_pool_llm:
        llm = [llm[i] for i in sorted(rng.choice(len(llm), config.max_pool_llm, replace=False))]
    others = [
        r for r in records if r.source not in config.eval_sources and r.source not in config.pool_sources
    ]
    tokenizer_texts = [r.text for r in others if r.label == "human" and r.data_type == "free_form"]

    def pick(texts: list[str]) -> list[str]:
        return [
            texts[i]
            for i in sorted(rng.choice(len(texts), min(config.eval_texts, len(texts)), replace=False))
        ]

    return Pools(human, llm, pick(unseen), pick(in_domain), tokenizer_texts, others)


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> Any:
    """A byte-level BPE (``tokenizers``) trained on ``texts``; ``<|endoftext|>`` separates documents."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def order_by_curriculum(
    bundle: Path, llm: Sequence[CorpusRecord], strategies: Sequence[str], work: Path
) -> dict[str, list[int]]:
    """Each strategy's order of ``llm`` (indices, first first), from the product's curriculum command
    path; one scoring serves every strategy (``keep_work``)."""
    from humanlike.curriculum.options import CurriculumOptions
    from humanlike.curriculum.pipeline import build_curriculum
    from humanlike.curriculum.scoring import ScoringOptions
    from humanlike.detector import Detector

    work.mkdir(parents=True, exist_ok=True)
    source = work / "pool.jsonl"
    with source.open("w", encoding="utf-8") as f:
        for i, r in enumerate(llm):
            f.write(
                json.dumps({"text": r.text, "generator": f"{r.source}/{r.generator}", "pool_index": i}) + "\n"
            )
    detector = Detector(bundle, device="cpu")
    orders = {}
    for strategy in strategies:
        out = work / f"{strategy}.jsonl"
        options = CurriculumOptions(strategy=strategy, scoring=ScoringOptions())  # type: ignore[arg-type]
        build_curriculum(
            detector, source, out, options, work_dir=work / "scored", keep_work=True, progress=False
        )
        orders[strategy] = [json.loads(line)["pool_index"] for line in out.open(encoding="utf-8")]
    return orders


def take_budget(token_counts: Sequence[int], order: Sequence[int], budget: int) -> list[int]:
    """The leading indices of ``order`` whose tokens fill ``budget`` (the last one may be cut)."""
    taken, total = [], 0
    for i in order:
        if total >= budget:
            break
        taken.append(i)
        total += token_counts[i]
    return taken


def arm_texts(
    name: str,
    pools: Pools,
    orders: dict[str, list[int]],
    counts_h: Sequence[int],
    counts_l: Sequence[int],
    config: DownstreamConfig,
    rng: np.random.Generator,
) -> list[str]:
    """The texts of one arm, in training order."""
    budget = config.token_budget
    random_l = list(rng.permutation(len(pools.llm)))
    if name == "human":
        return [
            pools.human[i].text
            for i in take_budget(counts_h, list(rng.permutation(len(pools.human))), budget)
        ]
    if name == "llm-random":
        return [pools.llm[i].text for i in take_budget(counts_l, random_l, budget)]
    if name in STRATEGY_OF:
        return [pools.llm[i].text for i in take_budget(counts_l, orders[STRATEGY_OF[name]], budget)]
    if name.startswith("llm-random-"):
        chosen = take_budget(counts_l, orders["human-likeness"], budget)
        key: Callable[[int], object]
        if name == "llm-random-length-matched":
            edges = np.quantile([counts_l[i] for i in range(len(pools.llm))], np.linspace(0, 1, 11)[1:-1])

            def key(i: int) -> object:
                return int(np.searchsorted(edges, counts_l[i]))
        else:

            def key(i: int) -> object:
                return (pools.llm[i].source, pools.llm[i].generator)

        # Random texts dealt cell by cell in the proportions the humanlike selection has, each next text
        # from the cell furthest below its share, until the budget is full or the cells run dry.
        share = Counter(key(i) for i in chosen)
        queues: dict[object, list[int]] = {cell: [] for cell in share}
        for i in random_l:
            if key(i) in queues:
                queues[key(i)].append(i)
        picked: list[int] = []
        dealt: Counter[object] = Counter()
        total = 0
        while total < budget and any(queues.values()):
            n = len(picked) + 1
            cell = max((c for c in queues if queues[c]), key=lambda c: share[c] / len(chosen) * n - dealt[c])
            i = queues[cell].pop(0)
            picked.append(i)
            dealt[cell] += 1
            total += counts_l[i]
        return [pools.llm[i].text for i in take_budget(counts_l, picked, budget)]
    if name.startswith("scarce-"):
        human_budget = round(config.scarce_human_share * budget)
        human = take_budget(counts_h, list(rng.permutation(len(pools.human))), human_budget)
        used = sum(counts_h[i] for i in human)
        llm_order = random_l if name == "scarce-random" else orders["human-likeness"]
        llm = take_budget(counts_l, llm_order, budget - used)
        texts = [pools.human[i].text for i in human] + [pools.llm[i].text for i in llm]
        return [texts[i] for i in rng.permutation(len(texts))]  # mixed through, not human first
    raise ValueError(f"unknown arm {name!r}")


class ProxyLM:
    """A small causal transformer (torch), trained from scratch on a token stream."""

    def __init__(self, config: DownstreamConfig, vocab: int, seed: int, device: str = "cpu") -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)  # the same initial weights for every arm of a seed
        self.config = config
        self.device = device
        self.embed = nn.Embedding(vocab, config.d_model)
        self.position = nn.Embedding(config.context, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model, config.heads, 4 * config.d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.modules = nn.ModuleList([self.embed, self.position, self.blocks, self.norm])
        self.mask = nn.Transformer.generate_square_subsequent_mask(config.context)
        for table in (self.embed, self.position):  # small, as GPT-2 does: the output embedding is tied
            nn.init.normal_(table.weight, std=0.02)
        self.modules.to(device)
        self.mask = self.mask.to(device)

    def logits(self, ids: Any, last_only: bool = False) -> Any:
        import torch

        ids = ids.to(self.device)
        n = ids.shape[1]
        h = self.embed(ids) + self.position(torch.arange(n, device=self.device))
        h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
        if last_only:  # sampling needs the next token's distribution alone
            h = h[:, -1:]
        return self.norm(h) @ self.embed.weight.T  # tied output embedding

    def parameters(self) -> Any:
        return self.modules.parameters()


def train_arm(
    stream: np.ndarray,
    config: DownstreamConfig,
    vocab: int,
    seed: int,
    evaluate: Callable[[ProxyLM], float],
) -> tuple[ProxyLM, list[tuple[int, float]]]:
    """One pass over ``stream`` in order, in sequences of ``context + 1`` tokens; the learning curve is
    ``evaluate`` at ``curve_points`` evenly spaced steps (and the end)."""
    import torch

    from humanlike.training.torch_device import torch_device

    model = ProxyLM(config, vocab, seed, device=str(torch_device()))
    n_seq = len(stream) // (config.context + 1)
    sequences = torch.from_numpy(stream[: n_seq * (config.context + 1)].astype(np.int64)).view(n_seq, -1)
    steps = max(1, n_seq // config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.learning_rate, total_steps=steps, pct_start=0.1
    )
    marks = {round(steps * (k + 1) / config.curve_points) for k in range(config.curve_points)}
    curve = []
    for step in range(1, steps + 1):
        batch = sequences[(step - 1) * config.batch_size : step * config.batch_size]
        logits = model.logits(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1)
        )
        optimizer.zero_grad()
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step in marks:
            curve.append((step * config.batch_size * config.context, evaluate(model)))
    return model, curve


def bits_per_byte(model: ProxyLM, tokenizer: Any, texts: Sequence[str], eot: int) -> float:
    """Bits of the model's code for each text's first ``context`` tokens, per UTF-8 byte of the
    characters those tokens cover: comparable across tokenizers."""
    import torch

    bits, n_bytes = 0.0, 0
    with torch.no_grad():
        for text in texts:
            encoding = tokenizer.encode(text)
            ids = encoding.ids[: model.config.context - 1]
            if not ids:
                continue
            end = encoding.offsets[len(ids) - 1][1]
            x = torch.tensor([[eot, *ids]])
            logp = torch.log_softmax(model.logits(x[:, :-1]), dim=-1)
            target = x[0, 1:].to(model.device)
            nll = -logp[0, torch.arange(len(ids), device=model.device), target].sum().item()
            bits += nll / math.log(2)
            n_bytes += len(text[:end].encode("utf-8"))
    return bits / max(n_bytes, 1)


def sample_diversity(
    model: ProxyLM, tokenizer: Any, config: DownstreamConfig, eot: int, seed: int
) -> dict[str, float]:
    """MTLD and distinct-2 (``humanlike.textstats``) of the model's samples at temperature 1."""
    import torch

    from humanlike.textstats import lexical_stats

    generator = torch.Generator().manual_seed(seed)
    stats = []
    with torch.no_grad():
        for _ in range(config.samples):
            ids = [eot]
            for _ in range(config.sample_tokens):
                logits = model.logits(torch.tensor([ids[-config.context :]]), last_only=True)[0, -1]
                ids.append(int(torch.multinomial(torch.softmax(logits, -1).cpu(), 1, generator=generator)))
            stats.append(lexical_stats(tokenizer.decode(ids[1:])))
    return {k: float(np.nanmean([s[k] for s in stats])) for k in ("mtld", "distinct_2")}


def run_downstream(
    corpus_paths: Sequence[str],
    out: Path,
    *,
    bundle: Path | None = None,
    config: DownstreamConfig = DownstreamConfig(),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Runs every arm and seed; writes ``out/report.json`` and ``out/report.html``."""
    from humanlike.detector.atomic import atomic_directory, check_output_directory

    check_output_directory(out, "downstream-report")
    started = time.perf_counter()
    records, _ = load_corpus(corpus_paths)
    pools = make_pools(records, config)
    log(
        f"pools: {len(pools.human)} human, {len(pools.llm)} LLM; evaluation: {len(pools.eval_unseen)} "
        f"unseen-source and {len(pools.eval_in_domain)} in-domain human texts"
    )
    tokenizer = train_tokenizer(pools.tokenizer_texts, config.vocab_size)
    eot = tokenizer.token_to_id("<|endoftext|>")
    with tempfile.TemporaryDirectory() as tmp:
        detector_note = f"given: {bundle}"
        if bundle is None:
            bundle = _train_detector(pools.detector_records, Path(tmp), config)
            detector_note = (
                f"n-gram trained here on {config.detector_sample} texts of the sources outside the pool and "
                "evaluation sources: it never saw an evaluation text nor the pool"
            )
        strategies = sorted({STRATEGY_OF[a] for a in config.arms if a in STRATEGY_OF} | {"human-likeness"})
        orders = order_by_curriculum(bundle, pools.llm, strategies, Path(tmp) / "curricula")
    counts_h = [len(e.ids) + 1 for e in tokenizer.encode_batch([r.text for r in pools.human])]
    counts_l = [len(e.ids) + 1 for e in tokenizer.encode_batch([r.text for r in pools.llm])]
    curve_texts = pools.eval_unseen[: max(20, len(pools.eval_unseen) // 3)]
    arms: dict[str, dict[str, Any]] = {}
    for name in config.arms:
        arm: dict[str, Any] = {
            "bpb_unseen": [],
            "bpb_in_domain": [],
            "mtld": [],
            "distinct_2": [],
            "curve": [],
            "n_texts": [],
            "tokens": [],
        }
        for seed in config.seeds:
            texts = arm_texts(
                name, pools, orders, counts_h, counts_l, config, np.random.default_rng(1000 + seed)
            )
            stream = np.concatenate([np.array([*e.ids, eot]) for e in tokenizer.encode_batch(texts)])[
                : config.token_budget
            ]
            model, curve = train_arm(
                stream,
                config,
                tokenizer.get_vocab_size(),
                seed,
                lambda m: bits_per_byte(m, tokenizer, curve_texts, eot),
            )
            arm["bpb_unseen"].append(round(bits_per_byte(model, tokenizer, pools.eval_unseen, eot), 5))
            arm["bpb_in_domain"].append(round(bits_per_byte(model, tokenizer, pools.eval_in_domain, eot), 5))
            diversity = sample_diversity(model, tokenizer, config, eot, seed)
            arm["mtld"].append(round(diversity["mtld"], 3))
            arm["distinct_2"].append(round(diversity["distinct_2"], 4))
            arm["curve"].append([[t, round(b, 5)] for t, b in curve])
            arm["n_texts"].append(len(texts))
            arm["tokens"].append(len(stream))
            log(
                f"{name:<28} seed {seed}: bpb unseen {arm['bpb_unseen'][-1]:.4f}, in-domain "
                f"{arm['bpb_in_domain'][-1]:.4f}; {len(texts)} texts ({time.perf_counter() - started:.0f} s)"
            )
        arms[name] = arm
    report = {
        "schema": "humanlike-downstream",
        "protocol": __doc__.split("\n\n")[0] if __doc__ else "",
        "config": asdict(config),
        "detector": detector_note,
        "n_pool_human": len(pools.human),
        "n_pool_llm": len(pools.llm),
        "n_eval_unseen": len(pools.eval_unseen),
        "n_eval_in_domain": len(pools.eval_in_domain),
        "arms": arms,
        "comparison": compare(arms),
        "seconds": round(time.perf_counter() - started, 1),
    }
    with atomic_directory(out, "downstream-report") as staging:
        (staging / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (staging / "report.html").write_text(render_html(report), encoding="utf-8")
    return report


def _train_detector(records: Sequence[CorpusRecord], tmp: Path, config: DownstreamConfig) -> Path:
    from humanlike.training.config import NgramBaselineConfig, SamplingConfig, SplitConfig
    from humanlike.training.data.corpus import sample
    from humanlike.training.models.ngram import train_ngram_bundle

    # The grouped sample that training on every text outside the pool would draw (SplitConfig's
    # sample_size), drawn here so that only it goes through the file; training then takes it whole.
    path = tmp / "detector-corpus.jsonl"
    chosen = sample(records, config.detector_sample, SplitConfig().seed)
    path.write_text("".join(r.model_dump_json() + "\n" for r in chosen), encoding="utf-8")
    out = tmp / "detector"
    train_ngram_bundle(
        [str(path)],
        out,
        splits=SplitConfig(),
        sampling=SamplingConfig(threshold_source_folds=0),
        config=NgramBaselineConfig(max_word_features=50_000, max_char_features=80_000),
        progress=False,
    )
    return out


def _interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval over seeds (the mean alone with one seed)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return m, m, m
    h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return m, m - h, m + h


def compare(arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per arm and evaluation set: the mean and interval over seeds, the paired difference to
    ``llm-random`` (same seeds), and the share of the ``llm-random`` - ``human`` gap it closes."""
    out: dict[str, Any] = {}
    for metric in ("bpb_unseen", "bpb_in_domain"):
        rows = {}
        random = np.array(arms["llm-random"][metric]) if "llm-random" in arms else None
        human = np.array(arms["human"][metric]) if "human" in arms else None
        for name, arm in arms.items():
            values = np.array(arm[metric])
            row: dict[str, Any] = {"mean_ci": [round(v, 5) for v in _interval(values)]}
            if random is not None and name != "llm-random":
                row["diff_to_random_ci"] = [round(v, 5) for v in _interval(values - random)]
                if human is not None and name != "human":
                    gap = random - human
                    row["gap_closed_ci"] = [round(v, 3) for v in _interval((random - values) / gap)]
            rows[name] = row
        out[metric] = rows
    return out


def render_html(report: dict[str, Any]) -> str:
    """The learning curves and the table, one page (matplotlib PNG inlined)."""
    import base64
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for name, arm in report["arms"].items():
        curves = np.array(arm["curve"], dtype=float)  # seeds x points x 2
        ax.plot(curves[0, :, 0], curves[:, :, 1].mean(axis=0), marker="o", label=name)
    ax.set_xlabel("training tokens")
    ax.set_ylabel("bits per byte, unseen-source human texts")
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    rows = []
    for name, row in report["comparison"]["bpb_unseen"].items():
        ind = report["comparison"]["bpb_in_domain"][name]

        def fmt(v: list[float] | None) -> str:
            return "-" if v is None else f"{v[0]:.4f} [{v[1]:.4f}, {v[2]:.4f}]"

        rows.append(
            f"<tr><td>{name}</td><td>{fmt(row['mean_ci'])}</td><td>{fmt(row.get('diff_to_random_ci'))}</td>"
            f"<td>{fmt(row.get('gap_closed_ci'))}</td><td>{fmt(ind['mean_ci'])}</td>"
            f"<td>{np.mean(report['arms'][name]['mtld']):.1f}</td></tr>"
        )
    return (
        "<!doctype html><meta charset='utf-8'><title>humanlike downstream</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:2px 8px}</style>"
        f"<h1>Downstream: proxy models per arm</h1><p>{report['protocol']}</p>"
        f"<p>Detector: {report['detector']}</p>"
        f"<img src='data:image/png;base64,{png}'>"
        "<table><tr><th>arm</th><th>unseen bpb (mean, 95% CI)</th><th>minus llm-random</th>"
        "<th>gap closed</th><th>in-domain bpb</th><th>MTLD of samples</th></tr>" + "".join(rows) + "</table>"
    )
