"""Gather what `infra usage` reports: each group's nodes and their CPU, through the AWS provider."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.config.models import MAX_USAGE_DAYS, Group
from infra.errors import InfraError
from infra.usage.model import METRIC, NAMESPACE, PERIOD, UsageReport, UsageRow, Verdict
from infra.usage.verdict import row
from infra.workspace import Workspace

DEFAULT_DAYS = 14  # AWS Compute Optimizer's default lookback


def usage_report(workspace: Workspace, groups: Iterable[str] = (), days: int = DEFAULT_DAYS, *,
                 now: datetime | None = None, reader: Any = None) -> UsageReport:
    """The usage of the named groups (every group with nodes when none is named) over `days` days."""
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise InfraError(f"--days {days}: give 1 to {MAX_USAGE_DAYS} (CloudWatch keeps 5-minute data "
                         f"{MAX_USAGE_DAYS} days)")
    config = workspace.config
    named = list(groups)
    selected = config.select(named)
    if reader is None:  # boto3 loads only when a command needs AWS
        from infra.providers.aws.metrics import UsageReader

        reader = UsageReader(workspace.aws_clients, config.owner)
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = end - timedelta(days=days)
    by_region: dict[str, list[Group]] = defaultdict(list)
    for group in selected:
        by_region[workspace.aws.region or group.region].append(group)
    rows: list[UsageRow] = []
    for region, members in by_region.items():
        found = reader.nodes(region, [g.name for g in members])
        series = reader.cpu(region, found, start, end) if found else []
        rows += [row(nodes, cpu, config.groups[nodes.group], workspace.prices, period_seconds=PERIOD,
                     window_hours=days * 24) for nodes, cpu in zip(found, series, strict=True)]
        shown = {(r.group, r.kind) for r in rows} | {(r.group, "any") for r in rows}
        rows += [_without_nodes(g, region, workspace.prices) for g in members
                 if (g.autoscale is not None and (g.name, "asg") not in shown)
                 or (g.autoscale is None and named and (g.name, "any") not in shown)]
    order = {name: index for index, name in enumerate(config.groups)}
    rows.sort(key=lambda r: (order[r.group], r.kind != "asg", r.name))
    return UsageReport(days=days, start=start.isoformat(), end=end.isoformat(), period_seconds=PERIOD,
                       metric=f"{NAMESPACE} {METRIC}", currency=workspace.prices.currency,
                       prices=list(workspace.prices.sources), rows=rows)


def _without_nodes(group: Group, region: str, prices: Any) -> UsageRow:
    """A group that runs nothing now: an ASG not made yet, or (named on the command line) no nodes at all."""
    reason = ("no autoscaling group of this project found: not applied yet? (infra apply)" if group.autoscale
              else "runs no nodes: no autoscale block and no one-off instances")
    return UsageRow(group=group.name, region=region, kind="asg" if group.autoscale else "none", name="",
                    instance_types=[group.instance_type], nodes=0, hourly=prices.price(region, group.instance_type),
                    monthly=0.0, thresholds=group.usage, verdict=Verdict.UNKNOWN, reason=reason)
