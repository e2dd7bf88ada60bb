"""Pure statistics of a CPU series: no AWS, no clock."""

from __future__ import annotations

from collections.abc import Sequence

from infra.usage.model import CpuSeries, CpuStats


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating between the two nearest ranks, as numpy and
    spreadsheets do by default: the 95th of 1..100 is 95.05."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(series: CpuSeries, period_seconds: int) -> CpuStats | None:
    """Average and p95 of the periods' averages, the highest of their maxima; None without data."""
    if not series.averages:
        return None
    averages = series.averages
    return CpuStats(average=round(sum(averages) / len(averages), 2), p95=round(percentile(averages, 95), 2),
                    maximum=round(max(series.maxima or averages), 2), periods=len(averages),
                    hours=round(len(averages) * period_seconds / 3600, 2))
