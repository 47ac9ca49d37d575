"""Progress of a long job: a bar with rate and ETA on a terminal, structured log lines elsewhere."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from tqdm import tqdm

logger = logging.getLogger("humanlike.curriculum")


class Progress:
    """Counts work done out of ``total``.

    On a terminal it is a ``tqdm`` bar; otherwise (a CI log, a cluster job) it logs one JSON line
    every ``log_every_s`` seconds: ``{"event": "progress", "phase", "done", "total", "rate", "eta_s"}``.

    Args:
        phase: what is being counted ("score", "write").
        total: units expected (bytes of input, rows), or None when unknown.
        unit: the unit's name.
        enabled: False: silent.
        initial: units already done (a resumed job).
    """

    def __init__(
        self,
        phase: str,
        total: int | None,
        unit: str,
        enabled: bool = True,
        initial: int = 0,
        log_every_s: float = 10.0,
    ) -> None:
        self.phase = phase
        self.total = total
        self.done = initial
        self._start_done = initial
        self._start = time.monotonic()
        self._last_log = self._start
        self._log_every_s = log_every_s
        self._enabled = enabled
        self._bar: tqdm[Any] | None = None
        if enabled and sys.stderr.isatty():
            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=phase,
                unit=unit,
                unit_scale=True,
                unit_divisor=1024 if unit == "B" else 1000,
            )

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._enabled and time.monotonic() - self._last_log >= self._log_every_s:
            self._log()

    def _log(self) -> None:
        now = time.monotonic()
        self._last_log = now
        rate = (self.done - self._start_done) / max(now - self._start, 1e-9)
        eta = (self.total - self.done) / rate if self.total and rate > 0 else None
        logger.info(
            json.dumps(
                {
                    "event": "progress",
                    "phase": self.phase,
                    "done": self.done,
                    "total": self.total,
                    "rate": round(rate, 1),
                    "eta_s": round(eta, 1) if eta is not None else None,
                }
            )
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._enabled:
            self._log()
