"""What a plan does to the monthly bill: pure, from the plan's actions and a price table.

Only nodes are counted, on demand: an ASG costs its desired capacity x the hourly price of its
launch template's instance type x 730 hours, a running one-off instance one node of its type.
A blue/green roll costs nothing more once it is over, but while it runs the new nodes run beside
the old ones: that is counted apart, once, for as long as a roll may take (the new ASG's
`healthy_deadline` plus its `timeout`). AMIs and their snapshots, EBS volumes and data transfer
are not counted. A type the price table does not know is never guessed: the estimate names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field, computed_field

from infra.config.pricing import HOURS_PER_MONTH, PriceSource
from infra.reconciler.actions import ActionKind

if TYPE_CHECKING:
    from infra.config.pricing import PriceTable


class Change(Protocol):
    """What pricing reads of a plan's action (plan.py's `Action`, which holds the estimate: this
    module must not import it back)."""

    @property
    def address(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def action(self) -> ActionKind: ...
    @property
    def before(self) -> dict[str, Any] | None: ...
    @property
    def after(self) -> dict[str, Any] | None: ...

RUNNING = ("pending", "running")  # a stopped instance's compute costs nothing


class Nodes(BaseModel):
    """What one resource runs, priced: `count` nodes of `instance_type` in `region`."""

    count: int
    instance_type: str | None = None  # None: not known from the plan
    region: str = ""
    hourly: float | None = None  # one node, on demand; None: no price

    @computed_field  # type: ignore[prop-decorator]
    @property
    def monthly(self) -> float | None:
        if self.count == 0:
            return 0.0
        return None if self.hourly is None else round(self.count * self.hourly * HOURS_PER_MONTH, 2)

    def described(self) -> str:
        return f"{self.count} × {self.instance_type or 'unknown type'}"


class CostItem(BaseModel):
    """The cost change of one action: what runs before it and after it."""

    address: str
    group: str
    before: Nodes | None = None
    after: Nodes | None = None
    one_off: float = 0.0  # paid once: a roll's new nodes running beside the old ones
    roll_seconds: int = 0  # how long a roll may keep both: healthy_deadline + timeout

    @computed_field  # type: ignore[prop-decorator]
    @property
    def monthly_change(self) -> float | None:
        """After minus before; None when a side has nodes of a type with no price."""
        before, after = (side.monthly if side is not None else 0.0 for side in (self.before, self.after))
        return None if before is None or after is None else round(after - before, 2)

    @property
    def unpriced(self) -> list[str]:
        return [f"{side.instance_type or 'unknown type'} in {side.region}" for side in (self.before, self.after)
                if side is not None and side.monthly is None]


class PlanCost(BaseModel):
    """The estimate a plan carries: per action, per group and in total, and the prices it used."""

    currency: str = "USD"
    hours_per_month: int = HOURS_PER_MONTH
    prices: list[PriceSource] = Field(default_factory=list)
    items: list[CostItem] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def groups(self) -> dict[str, float | None]:
        """Each group's monthly change; None when part of it has no price."""
        totals: dict[str, float | None] = {}
        for item in self.items:
            known, change = totals.get(item.group, 0.0), item.monthly_change
            totals[item.group] = None if known is None or change is None else round(known + change, 2)
        return totals

    @computed_field  # type: ignore[prop-decorator]
    @property
    def monthly_change(self) -> float:
        """The total of every change with a price (those without are in `unpriced`)."""
        return round(sum(item.monthly_change for item in self.items if item.monthly_change is not None), 2)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def one_off(self) -> float:
        return round(sum(item.one_off for item in self.items), 4)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unpriced(self) -> list[str]:
        """Types (in regions) the tables have no price for: their nodes are left out of the total."""
        return sorted({name for item in self.items for name in item.unpriced})


def estimate(actions: Iterable[Change], prices: PriceTable) -> PlanCost:
    """The cost change of the nodes `actions` start, change and stop."""
    actions = list(actions)
    types = _instance_types(actions)
    items = []
    for action in actions:
        if action.kind not in _NODES or not action.action.is_change:
            continue
        item = _NODES[action.kind](action, types.get(action.group, (None, None)), prices)
        if item.monthly_change != 0 or item.one_off:
            items.append(item)
    return PlanCost(currency=prices.currency, prices=list(prices.sources), items=items)


def _instance_types(actions: list[Change]) -> dict[str, tuple[str | None, str | None]]:
    """Each group's instance type before and after the plan, from its launch template's action."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for action in actions:
        if action.kind == "launch_template":
            found[action.group] = ((action.before or {}).get("instance_type"),
                                   (action.after or {}).get("instance_type"))
    return found


def _sides(action: Change) -> tuple[bool, bool]:
    """Whether the action ends what runs now (the before side counts) and starts what runs after."""
    kind = action.action
    return (kind in (ActionKind.DELETE, ActionKind.REPLACE, ActionKind.UPDATE),
            kind in (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.UPDATE))


def _nodes(attributes: dict[str, Any] | None, count: Any, instance_type: Any, prices: PriceTable) -> Nodes | None:
    if attributes is None or not isinstance(count, int):
        return None
    region = str(attributes.get("region") or "")
    known = instance_type if isinstance(instance_type, str) else None
    return Nodes(count=count, instance_type=known, region=region,
                 hourly=prices.price(region, known) if known else None)


def _asg(action: Change, types: tuple[str | None, str | None], prices: PriceTable) -> CostItem:
    ends, starts = _sides(action)
    before = _nodes(action.before, (action.before or {}).get("desired_capacity"), types[0], prices) if ends else None
    after = _nodes(action.after, (action.after or {}).get("desired_capacity"), types[1], prices) if starts else None
    item = CostItem(address=action.address, group=action.group, before=before, after=after)
    if action.action.is_replace and after is not None and after.monthly is not None:
        seconds = sum(v for v in ((action.after or {}).get("healthy_deadline"), (action.after or {}).get("timeout"))
                      if isinstance(v, int))
        item.roll_seconds = seconds
        item.one_off = round(after.monthly / HOURS_PER_MONTH * seconds / 3600, 4)
    return item


def _instance(action: Change, types: tuple[str | None, str | None], prices: PriceTable) -> CostItem:
    """A one-off instance: one node while it runs (a stopped one costs nothing, and an update of
    its tags does not start it)."""
    ends, starts = _sides(action)
    state = (action.before or {}).get("state")
    running = 0 if action.before is not None and state not in (*RUNNING, None) else 1
    count = running if action.action is ActionKind.UPDATE else 1
    before = _nodes(action.before, running, (action.before or {}).get("instance_type"), prices) if ends else None
    after = _nodes(action.after, count, (action.after or {}).get("instance_type"), prices) if starts else None
    return CostItem(address=action.address, group=action.group, before=before, after=after)


_NODES = {"asg": _asg, "instance": _instance}
