"""Summaries of latency samples. Pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    """Latency summary in seconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        return cls(
            count=len(samples),
            p50=percentile(samples, 50),
            p90=percentile(samples, 90),
            p99=percentile(samples, 99),
            max=max(samples),
        )

    def as_dict_us(self) -> dict[str, float]:
        return {
            "count": self.count,
            "p50_us": round(self.p50 * 1e6, 1),
            "p90_us": round(self.p90 * 1e6, 1),
            "p99_us": round(self.p99 * 1e6, 1),
            "max_us": round(self.max * 1e6, 1),
        }
