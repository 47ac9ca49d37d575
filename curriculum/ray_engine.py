"""The scoring phase on Ray Data, for corpora that outgrow one machine.

Ray reads the Parquet input (``ray.data.read_parquet``, any path or directory Ray reads: local, S3,
GCS), and a pool of actors scores it with ``map_batches``: each actor loads the bundle once
(:class:`BundleScorer`) and runs the same :class:`humanlike.curriculum.scoring.ChunkScorer` as the local
engine. Results stream back to the driver in input order (``preserve_order``), where they are
numbered and cut into the same chunks as the local engine's, so the ordering phase, and therefore
the output, is the same. The ordering phase (external sorts, disk-bound) runs on the driver.

Ray is optional (``pip install 'humanlike[ray]'``); nothing imports this module unless
``--engine ray`` is asked for.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from humanlike.curriculum.pipeline import ChunkResults, ScoreChunks
from humanlike.curriculum.scoring import ChunkScorer, ScoringOptions
from humanlike.curriculum.sources import is_parquet


class BundleScorer:
    """A Ray Data actor: loads the bundle once, scores batches of rows.

    Each output row carries ``row`` (``META\\tOUTPUT\\n`` bytes, empty when unscorable) and
    ``reason`` (why not, or null).
    """

    def __init__(self, bundle: str, options: ScoringOptions, threads: int) -> None:
        from humanlike.detector.runtime import Detector

        self._scorer = ChunkScorer(Detector(bundle, device="cpu", threads=threads), options)

    def __call__(self, batch: pa.Table) -> pa.Table:
        results = self._scorer.score(batch.to_pylist())
        return pa.table(
            {
                "row": pa.array([r if isinstance(r, bytes) else b"" for r in results], pa.binary()),
                "reason": pa.array([r if isinstance(r, str) else None for r in results], pa.string()),
            }
        )


def ray_chunk_scorer(
    bundle: str | Path,
    options: ScoringOptions,
    actors: int | None = None,
    threads_per_actor: int = 1,
    batch_rows: int = 256,
) -> ScoreChunks:
    """A chunk scorer for :func:`humanlike.curriculum.pipeline.build_curriculum` that runs on Ray.

    Joins the running Ray cluster (``RAY_ADDRESS``) or starts a local one.

    Args:
        bundle: bundle directory, readable by every node.
        actors: scoring actors (each holds one loaded bundle); default: as many as the cluster's CPUs
            allow with one CPU left for the read tasks (actors holding every CPU starve the reader).
        threads_per_actor: ONNX Runtime threads (and CPUs reserved) per actor.
        batch_rows: rows per ``map_batches`` call.
    """
    import ray

    def score_chunks(path: Path, chunk_lines: int, start: int, start_line: int) -> ChunkResults:
        if not is_parquet(path):
            raise ValueError(f"--engine ray reads Parquet input (.parquet), not {path.name}")
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 2))  # type: ignore[no-untyped-call]
        n_actors = actors or max(1, cpus // threads_per_actor - 1)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows come back in input order
        ds = ray.data.read_parquet(str(path))
        scored = ds.map_batches(
            BundleScorer,
            fn_constructor_kwargs={"bundle": str(bundle), "options": options, "threads": threads_per_actor},
            batch_size=batch_rows,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=threads_per_actor,
        )
        results: list[bytes | str] = []
        first, end, seen = start_line, start, 0
        for batch in scored.iter_batches(batch_format="pyarrow", batch_size=None):
            assert isinstance(batch, pa.Table)
            rows = batch.column("row").to_pylist()
            reasons = batch.column("reason").to_pylist()
            for row, reason in zip(rows, reasons, strict=True):
                seen += 1
                if seen <= start:
                    # A resumed job rescores from the top (Ray has no cheap "skip N rows" that keeps
                    # order) and drops what the checkpoint already holds.
                    continue
                results.append(reason if reason is not None else row)
                end += 1
                if len(results) == chunk_lines:
                    yield first, results, end
                    first += len(results)
                    results = []
        if results:
            yield first, results, end

    return score_chunks
