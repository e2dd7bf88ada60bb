"""The tables and lines of docs/performance.md, from what plan_scale.py measured."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from harness import Run

OBSERVE = "observe (boto3 clients, AWS describes, local files)"  # phases.py's name of the phase


@dataclass
class PlanRow:
    groups: int
    resources: int
    cold: dict[float, Run] = field(default_factory=dict)  # by the delay added to each AWS request
    formats: dict[str, Run] = field(default_factory=dict)  # cold, no delay, by --output (text is cold[0.0])
    warm: dict[float, Run] = field(default_factory=dict)  # on moto
    replay: dict[float, Run] = field(default_factory=dict)  # warm, on moto's recorded answers (replay.py)
    setup: Run | None = None  # the apply that made everything, for the warm plans
    state_writes: int = 0  # how many times that apply recorded the state (its final serial)
    state_mb: float = 0.0  # the size of the state it wrote last
    baseline: dict[float, tuple[Run, dict]] = field(default_factory=dict)  # per_resource.py on moto, by delay
    replay_baseline: dict[float, tuple[Run, dict]] = field(default_factory=dict)  # per_resource.py on the replay
    misses: int = 0  # requests the replay held no answer for (none, or its figures are not valid)
    phases: dict[str, dict] = field(default_factory=dict)  # "cold", "warm", "warm, delayed" -> phases.py's answer
    note: str = ""


@dataclass
class RegionsRow:
    """The same fleet in one region and spread over `regions`, each planned warm: on moto and on moto's
    answers recorded during the run and served from memory (replay.py), without and with the delay."""

    groups: int
    regions: int
    warm: dict[tuple[int, str, float], Run] = field(default_factory=dict)  # (regions, "moto"/"replay", delay)
    phases: dict[tuple[int, str, float], dict] = field(default_factory=dict)  # the same, phases.py's answer
    setup: dict[int, Run] = field(default_factory=dict)  # the apply that made each fleet, by regions
    misses: int = 0  # requests the replays held no answer for (none, or their figures are not valid)

    def observe(self, regions: int, on: str, delay: float) -> float | None:
        """The observe phase of a warm plan (phases.py), wall seconds."""
        found = self.phases.get((regions, on, delay))
        return found["phases"][OBSERVE] if found else None

    def ratio(self, on: str, delay: float) -> float | None:
        """The spread fleet's observe, times that of the same fleet in one region."""
        spread, one = self.observe(self.regions, on, delay), self.observe(1, on, delay)
        return spread / one if spread is not None and one else None


@dataclass
class ApplyRow:
    parallelism: int
    delay: float
    seconds: float
    builds: int
    most_at_once: int
    ideal: float
    cpu: float  # infra and its packer clients
    moto_cpu: float


def ms(delay: float) -> str:
    return f"{delay * 1000:.0f} ms"


def requests_cell(run: Run | None, expected: Counter | None) -> str:
    if run is None:
        return "-"
    parts = ", ".join(f"{name.removeprefix('Describe')} {count}" for name, count in sorted(run.requests.items()))
    unexpected = expected is not None and run.requests != expected
    return f"{run.total_requests} ({parts}){' **unexpected**' if unexpected else ''}"


def wall(run: Run | None) -> str:
    return "-" if run is None else f"{run.seconds:.2f} s"


def plan_table(rows: list[PlanRow], delays: list[float], expected) -> list[str]:
    """One line per size and delay: cold and warm wall time, memory, requests; the apply that made it."""
    lines = ["| groups | resources | delay per request | cold: wall | cold: peak RSS | cold: AWS requests | "
             "warm: wall | warm: peak RSS | warm: AWS requests | apply that made everything |",
             "|---:|---:|---:|---:|---:|---|---:|---:|---|---:|"]
    for row in rows:
        for delay in delays:
            cold, warm = row.cold.get(delay), row.warm.get(delay)
            setup = f"{row.setup.seconds:.0f} s" if row.setup is not None and delay == delays[0] else "-"
            cells = [f"{row.groups:,}", f"{row.resources:,}", ms(delay), wall(cold),
                     f"{cold.peak_mb:.0f} MB" if cold else "-", requests_cell(cold, expected(row.groups, warm=False)),
                     wall(warm) if warm else (row.note or "-"), f"{warm.peak_mb:.0f} MB" if warm else "-",
                     requests_cell(warm, expected(row.groups, warm=True)), setup]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def linear_fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least squares t = a + b * n; also the largest relative miss of the fit."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    b = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    a = mean_y - b * mean_x
    return a, b, max(abs(a + b * x - y) / y for x, y in points)


def scaling_lines(rows: list[PlanRow], delay: float) -> list[str]:
    """Time per group, the growth between sizes, and a straight-line fit."""
    lines = []
    for which in ("cold", "warm"):
        runs = [(r.groups, getattr(r, which)[delay]) for r in rows if delay in getattr(r, which)]
        if not runs:
            continue
        per_group = ", ".join(f"{g:,}: {run.seconds / g * 1000:.2f} ms" for g, run in runs)
        lines.append(f"- {which} plan, wall time per group: {per_group}")
        growth = [f"{a:,}->{b:,} groups (x{b / a:g}): time x{rb.seconds / ra.seconds:.1f}, memory "
                  f"x{rb.peak_mb / ra.peak_mb:.1f}" for (a, ra), (b, rb) in pairwise(runs)]
        if growth:
            lines.append(f"- {which} plan, growth: " + "; ".join(growth))
        if len(runs) >= 3:
            a, b, miss = linear_fit([(g, run.seconds) for g, run in runs])
            lines.append(f"- {which} plan, straight line through all sizes: {a:.2f} s + {b * 1000:.2f} ms per group "
                         f"(start-up + per group); the worst size is {miss * 100:.0f}% off the line")
    return lines


def comparison_table(rows: list[PlanRow], delays: list[float]) -> list[str]:
    """infra's warm plan beside the per-resource refresh of the same fleet: requests, time, ratios; on
    moto and on its recorded answers (replay.py)."""
    lines = ["| groups | AWS answered by | delay per request | infra plan: AWS requests | infra plan: wall | "
             "per-resource refresh: resources read | per-resource refresh: AWS requests | per-resource refresh: wall | "
             "requests: ratio | wall: ratio |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        for where, plans, baselines in (("moto", row.warm, row.baseline), ("replay", row.replay, row.replay_baseline)):
            for delay in delays:
                if delay not in baselines or delay not in plans:
                    continue
                infra, (base, found) = plans[delay], baselines[delay]
                lines.append(f"| {row.groups:,} | {where} | {ms(delay)} | {infra.total_requests:,} | "
                             f"{infra.seconds:.2f} s | {found['resources']:,} | {base.total_requests:,} | "
                             f"{base.seconds:.2f} s | {_times(base.total_requests / infra.total_requests)} | "
                             f"{_times(base.seconds / infra.seconds)} |")
    return lines


def formats_table(rows: list[PlanRow]) -> list[str]:
    """Cold plans (no delay) in each output format: wall, CPU, peak memory."""
    lines = ["| groups | --output | wall | CPU | peak RSS | report size |", "|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        for output, run in (("text", row.cold.get(0.0)), *row.formats.items()):
            if run is not None:
                lines.append(f"| {row.groups:,} | {output} | {run.seconds:.2f} s | {run.cpu:.2f} s | "
                             f"{run.peak_mb:.0f} MB | {run.output_bytes / 1e6:.1f} MB |")
    return lines


def replay_table(rows: list[PlanRow], delays: list[float]) -> list[str]:
    """The warm plan on moto and on moto's recorded answers: wall, infra's own CPU, peak memory."""
    lines = ["| groups | AWS answered by | delay per request | wall | CPU of infra | CPU of moto meanwhile | "
             "peak RSS |", "|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        for where, runs in (("moto", row.warm), ("replay", row.replay)):
            for delay in delays:
                run = runs.get(delay)
                if run is not None:
                    moto = f"{run.moto_cpu:.2f} s" if where == "moto" else "-"
                    lines.append(f"| {row.groups:,} | {where} | {ms(delay)} | {run.seconds:.2f} s | {run.cpu:.2f} s | "
                                 f"{moto} | {run.peak_mb:.0f} MB |")
    return lines


def _times(ratio: float) -> str:
    return f"x{ratio:,.0f}" if ratio >= 10 else f"x{ratio:.1f}"


def phases_table(columns: list[tuple[str, dict]]) -> list[str]:
    if not columns:
        return []
    names = list(columns[0][1]["phases"])
    lines = ["| phase | " + " | ".join(label for label, _ in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{c['phases'].get(name, 0):.2f} s" for _, c in columns) + " |")
    lines.append("| of observe: CPU in infra (the rest waits on AWS) | "
                 + " | ".join(f"{c['observe_cpu']:.2f} s" for _, c in columns) + " |")
    lines.append("| of observe: moto's CPU answering (a local stand-in for AWS) | "
                 + " | ".join(f"{c.get('moto_cpu', 0):.2f} s" for _, c in columns) + " |")
    lines.append("| the whole plan: CPU | " + " | ".join(f"{c.get('cpu', 0):.2f} s" for _, c in columns) + " |")
    return lines


def regions_table(row: RegionsRow | None, delays: list[float]) -> list[str]:
    """One line per answerer, delay and number of regions: the warm plan and its observe phase."""
    if row is None:
        return []
    lines = ["| regions | AWS answered by | delay per request | warm plan: wall | warm plan: CPU | observe: wall | "
             "observe: CPU in infra | observe: moto's CPU | observe, times one region's | AWS requests |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for on in ("replay", "moto"):
        for delay in delays:
            for regions in (1, row.regions):
                warm, found = row.warm.get((regions, on, delay)), row.phases.get((regions, on, delay))
                if warm is None:
                    continue
                ratio = row.ratio(on, delay) if regions != 1 else None
                observed = (f"{found['phases'][OBSERVE]:.2f} s | {found['observe_cpu']:.2f} s | "
                            + (f"{found.get('moto_cpu', 0):.2f} s" if on == "moto" else "-")) if found else "- | - | -"
                lines.append(f"| {regions} | {on} | {ms(delay)} | {warm.seconds:.2f} s | {warm.cpu:.2f} s | "
                             f"{observed} | {'-' if ratio is None else f'x{ratio:.2f}'} | {warm.total_requests} |")
    return lines


def apply_table(rows: list[ApplyRow], packer_seconds: float) -> list[str]:
    serial = {r.delay: r.seconds for r in rows if r.parallelism == 1}
    cores = os.cpu_count() or 1
    lines = ["| parallelism | delay per request | wall | speed-up vs 1 | builds alone, ideally | packer builds | "
             f"most builds at once | CPU: infra (and packer's clients), moto | CPU alone, on {cores} cores |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        speedup = f"x{serial[row.delay] / row.seconds:.1f}" if row.delay in serial else "-"
        lines.append(f"| {row.parallelism} | {ms(row.delay)} | {row.seconds:.1f} s | {speedup} | {row.ideal:.0f} s | "
                     f"{row.builds} of {packer_seconds:g} s | {row.most_at_once} | {row.cpu:.1f} s + "
                     f"{row.moto_cpu:.1f} s | {(row.cpu + row.moto_cpu) / cores:.1f} s |")
    return lines


@dataclass
class Target:
    what: str
    limit: float
    unit: str
    measured: float | None
    where: str = ""  # where the time goes when it is missed
    at_least: bool = False  # a floor (a speed-up), not a ceiling

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "not measured"
        met = self.measured >= self.limit if self.at_least else self.measured < self.limit
        return "met" if met else "**missed**"


def targets_table(targets: list[Target]) -> list[str]:
    lines = ["| target | limit | measured | |", "|---|---:|---:|---|"]
    for t in targets:
        shown = ("-" if t.measured is None else f"{t.measured:.0f} {t.unit}" if t.unit == "MB"
                 else f"{t.measured:.1f} {t.unit}" if t.unit == "x" else f"{t.measured:.2f} {t.unit}")
        limit = f"at least {t.limit:g} {t.unit}" if t.at_least else f"{t.limit:g} {t.unit}"
        lines.append(f"| {t.what} | {limit} | {shown} | {t.verdict} |")
    return lines
