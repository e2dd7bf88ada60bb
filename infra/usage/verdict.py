"""Pure judgement: is a group's CPU idle, saturated or fine, and what would put it right.

The verdict looks at the p95 of the 5-minute CPU averages over the window, against the group's
thresholds (`usage` in nodes.json): the busiest 5% of the time may spike, but if even that stays
below `idle_below` the nodes do too little, and if it lies above `saturated_above` they are
flooded for hours of the window. A suggestion resizes the group so its p95 would land near
`AIM` of `saturated_above`, the way a target-tracking policy would hold it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.config.models import Group, Usage
from infra.config.pricing import PriceTable, dollars
from infra.config.scaling import Scaling
from infra.usage.model import CpuSeries, CpuStats, NodeSet, Suggestion, UsageRow, Verdict
from infra.usage.stats import summarise

AIM = 0.75  # of saturated_above: where a resized group's p95 should land (60% by default)
SCALING_KEY = "autoscale.scaling.target_tracking"  # where nodes.json takes target tracking policies


def row(nodes: NodeSet, series: CpuSeries, group: Group, prices: PriceTable, *, period_seconds: int,
        window_hours: float) -> UsageRow:
    """One report row: what the node set costs, its CPU, the verdict and what it implies."""
    cpu = summarise(series, period_seconds)
    verdict, reason = judge(cpu, nodes.running, group.usage, window_hours)
    kinds = sorted(set(nodes.instance_types)) or [group.instance_type]
    monthly = [prices.monthly(nodes.region, kind) for kind in nodes.instance_types]
    priced = [price for price in monthly if price is not None]
    return UsageRow(group=nodes.group, region=nodes.region, kind=nodes.kind, name=nodes.name, instance_types=kinds,
                    nodes=nodes.running, node_min=nodes.node_min, node_max=nodes.node_max, desired=nodes.desired,
                    hourly=prices.price(nodes.region, kinds[0]) if len(kinds) == 1 else None,
                    monthly=None if len(priced) < len(monthly) else round(sum(priced, 0.0), 2), cpu=cpu,
                    thresholds=group.usage,
                    verdict=verdict, reason=reason, suggestions=suggest(
                        verdict, cpu, nodes, group.usage, prices,
                        scaling=group.autoscale.scaling if group.autoscale is not None else None))


def judge(cpu: CpuStats | None, running: int, usage: Usage, window_hours: float) -> tuple[Verdict, str]:
    """The verdict and why, in words that name the numbers and thresholds it rests on."""
    if running == 0:
        return Verdict.UNKNOWN, "no nodes running"
    hours = cpu.hours if cpu is not None else 0.0
    if cpu is None or hours < usage.min_hours:
        reason = f"{hours:.1f} h of CPU data in the window; a verdict needs {usage.min_hours:g} h (usage.min_hours)"
        if window_hours < usage.min_hours:
            reason += f", more than the window holds: use --days {math.ceil(usage.min_hours / 24)} or more"
        return Verdict.UNKNOWN, reason
    if cpu.p95 > usage.saturated_above:
        return Verdict.SATURATED, f"p95 CPU {cpu.p95:.1f}% is above {usage.saturated_above:g}%"
    if cpu.p95 < usage.idle_below:
        return Verdict.IDLE, f"p95 CPU {cpu.p95:.1f}% is below {usage.idle_below:g}%"
    return Verdict.FINE, f"p95 CPU {cpu.p95:.1f}% is within {usage.idle_below:g}..{usage.saturated_above:g}%"


def suggest(verdict: Verdict, cpu: CpuStats | None, nodes: NodeSet, usage: Usage,
            prices: PriceTable, *, scaling: Scaling | None = None) -> list[Suggestion]:
    """What the verdict implies, cheapest first: fewer or more nodes, a smaller or larger type, a
    scaling policy (or what keeps the group's own from acting). They are alternatives; each says
    what it would change on the monthly bill."""
    if not verdict.is_finding or cpu is None or not nodes.instance_types:
        return []
    case = _Case(nodes, cpu, usage, prices)
    group = nodes.kind == "asg"
    if verdict is Verdict.IDLE:
        found = (_fewer_nodes(case) if group else [_stop(case)]) + _other_type(case, -1)
        follow = "shrink when idle"
    else:
        found = (_more_nodes(case) if group else []) + _other_type(case, +1) + _burstable(case)
        follow = "grow under load, up to node_max"
    if group:
        found.append(_scaling_policy(case, verdict, follow, scaling))
    return found


def _scaling_policy(case: _Case, verdict: Verdict, follow: str, scaling: Scaling | None) -> Suggestion:
    """Target tracking on CPU, with the target a resized group would be held at; or, when the group
    has it already, what keeps it from acting."""
    tracking = next(((name, policy) for name, policy in (scaling.target_tracking.items() if scaling else ())
                     if policy.metric == "cpu"), None)
    if tracking is None:
        target = case.usage.saturated_above * AIM
        return Suggestion(text=f"a scaling policy: target tracking on CPU lets it {follow} ({SCALING_KEY} in "
                               f"nodes.json: {{\"cpu\": {{\"metric\": \"cpu\", \"target\": {target:g}}}}})")
    name, policy = tracking
    has = f"its target tracking on CPU ({SCALING_KEY}.{name}, target {policy.target:g}%)"
    nodes = case.nodes
    if verdict is Verdict.IDLE:
        if nodes.node_min is not None and nodes.running <= nodes.node_min:
            return Suggestion(text=f"{has} cannot shrink it below node_min {nodes.node_min}: lower node_min")
        if policy.disable_scale_in:
            return Suggestion(text=f"{has} never shrinks it (disable_scale_in): let it scale in")
        return Suggestion(text=f"{has} does not shrink it: is its scaling suspended? (aws autoscaling "
                               f"describe-scaling-activities)")
    if nodes.node_max is not None and nodes.running >= nodes.node_max:
        return Suggestion(text=f"{has} cannot grow it past node_max {nodes.node_max}: raise node_max")
    return Suggestion(text=f"{has} lets it run hot: a lower target, or a shorter warmup, grows it sooner")


def nodes_for(cpu: CpuStats, running: int, usage: Usage) -> int:
    """How many nodes would carry the load with a p95 near AIM of saturated_above (at least one)."""
    return max(1, math.ceil(running * cpu.p95 / (usage.saturated_above * AIM)))


@dataclass(frozen=True)
class _Case:
    """A node set to suggest for, with what it is judged and priced by."""

    nodes: NodeSet
    cpu: CpuStats
    usage: Usage
    prices: PriceTable

    @property
    def kind(self) -> str:
        return self.nodes.instance_types[0]

    def monthly(self, count: int, kind: str | None = None) -> float | None:
        return self.prices.monthly(self.nodes.region, kind or self.kind, count)

    def change(self, before: float | None, after: float | None) -> float | None:
        return None if before is None or after is None else round(after - before, 2)


def _fewer_nodes(case: _Case) -> list[Suggestion]:
    running, needed = case.nodes.running, nodes_for(case.cpu, case.nodes.running, case.usage)
    if needed >= running:
        return []
    lower = "desired and node_min" if (case.nodes.node_min or 0) > needed else "desired"
    return [Suggestion(text=f"fewer nodes: {needed} instead of {running} (lower {lower} to {needed})",
                       monthly_change=case.change(case.monthly(running), case.monthly(needed)))]


def _more_nodes(case: _Case) -> list[Suggestion]:
    running = case.nodes.running
    needed = max(running + 1, nodes_for(case.cpu, running, case.usage))
    if case.nodes.node_max is not None and running >= case.nodes.node_max:
        how = f"it runs at node_max: raise node_max and desired to {needed}"
    else:
        how = f"raise desired, and node_min, to {needed}"
    return [Suggestion(text=f"more nodes: {needed} instead of {running} ({how})",
                       monthly_change=case.change(case.monthly(running), case.monthly(needed)))]


def _stop(case: _Case) -> Suggestion:
    return Suggestion(text=f"no node: terminate instance.{case.nodes.group}.{case.nodes.name} if nothing needs it",
                      monthly_change=case.change(case.monthly(1), 0.0))


def _other_type(case: _Case, step: int) -> list[Suggestion]:
    """The next smaller (step -1) or larger (+1) size of the same family, where it has a price."""
    other = case.prices.neighbour(case.nodes.region, case.kind, step)
    if other is None:
        return []
    if step < 0 and case.cpu.maximum >= case.usage.saturated_above:
        return [Suggestion(text=f"not a smaller type: it peaks at {case.cpu.maximum:.0f}% CPU, which {other} could "
                                f"not absorb; let the node count follow the load instead")]
    price, hourly = (case.prices.price(case.nodes.region, k) for k in (other, case.kind))
    running = case.nodes.running
    return [Suggestion(text=f"{'a smaller' if step < 0 else 'a larger'} instance type: {other} at {dollars(price)} "
                            f"an hour instead of {dollars(hourly)}",
                       monthly_change=case.change(case.monthly(running), case.monthly(running, other)))]


def _burstable(case: _Case) -> list[Suggestion]:
    if not case.kind.startswith("t"):
        return []
    return [Suggestion(text=f"a fixed-performance type (m, c): {case.kind} is burstable, held to its baseline once "
                            f"its CPU credits run out (watch CPUCreditBalance)")]
