"""What `infra usage` reads and reports: the nodes a group runs, their CPU, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pydantic import BaseModel, Field, computed_field

from infra.config.models import Usage
from infra.config.pricing import PriceSource

# EC2's own CPU metric, which every instance sends every 5 minutes (basic monitoring).
NAMESPACE, METRIC = "AWS/EC2", "CPUUtilization"
PERIOD = 300  # basic monitoring's period: finer data does not exist without detailed monitoring


@dataclass
class NodeSet:
    """One thing that runs a group's nodes: its autoscaling group, or one of its one-off instances."""

    group: str
    region: str
    kind: str  # "asg" or "instance"
    name: str  # the ASG's name, or the instance's name in infra (instance.<group>.<name>)
    dimension: tuple[str, str]  # the CloudWatch dimension its CPU is under
    instance_types: list[str] = field(default_factory=list)  # one per running node
    node_min: int | None = None
    node_max: int | None = None
    desired: int | None = None

    @property
    def running(self) -> int:
        return len(self.instance_types)


@dataclass
class CpuSeries:
    """CPU over the window, one value per 5-minute period: the average and the maximum."""

    averages: list[float] = field(default_factory=list)
    maxima: list[float] = field(default_factory=list)


class Verdict(str, Enum):
    IDLE = "idle"  # doing too little to warrant its nodes
    SATURATED = "saturated"  # flooded with work
    FINE = "fine"
    UNKNOWN = "unknown"  # no nodes, or not enough data to judge

    @property
    def is_finding(self) -> bool:
        return self in (Verdict.IDLE, Verdict.SATURATED)


class CpuStats(BaseModel):
    """A CPU series summed up: average and p95 of the 5-minute averages, and the highest maximum."""

    average: float
    p95: float
    maximum: float
    periods: int  # 5-minute periods with data
    hours: float  # the data they hold


class Suggestion(BaseModel):
    text: str
    monthly_change: float | None = None  # what following it would change on the bill; None: unknown


class UsageRow(BaseModel):
    group: str
    region: str
    kind: str
    name: str
    instance_types: list[str]  # the distinct types running (the configured one when none runs)
    nodes: int  # running: InService in the ASG, or the running instance
    node_min: int | None = None
    node_max: int | None = None
    desired: int | None = None
    hourly: float | None = None  # one node an hour, when every node is of one type
    monthly: float | None = None  # every running node for a month; None: some type has no price
    cpu: CpuStats | None = None
    thresholds: Usage
    verdict: Verdict
    reason: str
    suggestions: list[Suggestion] = Field(default_factory=list)


class UsageReport(BaseModel):
    days: int
    start: str  # ISO 8601, UTC
    end: str
    period_seconds: int
    metric: str
    currency: str = "USD"
    prices: list[PriceSource] = Field(default_factory=list)
    rows: list[UsageRow] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def findings(self) -> int:
        """Rows judged idle or saturated: `infra usage` exits 2 when there is any."""
        return sum(row.verdict.is_finding for row in self.rows)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def monthly(self) -> float:
        """What the running nodes cost a month, of those with a price."""
        return round(sum(row.monthly for row in self.rows if row.monthly is not None), 2)
