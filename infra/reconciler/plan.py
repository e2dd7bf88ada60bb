"""A plan is data: the actions to take, in order, and what it was made against.

It can be saved, read back, rendered and applied later; `made_against` lets apply refuse a plan
whose state or nodes.json changed since. Saved and printed as JSON by plan_json.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from infra.reconciler.actions import ActionKind
from infra.reconciler.cost import PlanCost
from infra.reconciler.resources import ManyRecord
from infra.state.model import ResourceState

ListOp = Literal["change", "insert", "remove"]
_REVERSED: dict[str, ListOp] = {"change": "change", "insert": "remove", "remove": "insert"}


class AttributeChange(BaseModel):
    path: str
    before: Any = None
    after: Any = None
    # A key or list item that is not there at all, as opposed to one whose value is null.
    before_absent: bool = False
    after_absent: bool = False
    # An item put into a list (`insert`, at `index` of the new list) or taken out of one (`remove`,
    # from `index` of the old list): the items after it shift, and are no change of their own.
    # `path` ends with that index (`document.run_list[3]`); `change` is any other change.
    op: ListOp = "change"
    index: int | None = None

    def reversed(self) -> AttributeChange:
        """The same change seen from the other side (drift compares actual against recorded)."""
        return AttributeChange(path=self.path, before=self.after, after=self.before,
                               before_absent=self.after_absent, after_absent=self.before_absent,
                               op=_REVERSED[self.op], index=self.index)

    @property
    def list_path(self) -> str:
        """For an insertion or removal, the list's own path: `document.run_list`."""
        return self.path.rpartition("[")[0] if self.op != "change" else self.path

    @property
    def attribute(self) -> str:
        """The top-level attribute the change is under: `document` for `document.run_list[2]`."""
        return self.path.split(".")[0].split("[")[0]


def changed_attributes(changes: list[AttributeChange]) -> list[str]:
    return sorted({change.attribute for change in changes})


class Action(ManyRecord):
    address: str
    kind: str
    group: str
    action: ActionKind
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    changes: list[AttributeChange] = Field(default_factory=list)
    reason: str = ""
    depends_on: list[str] = Field(default_factory=list)
    # The resource is marked `protect` (in nodes.json, or in state once its group is gone).
    protect: bool = False
    # A deletion of nodes that new nodes of the same plan take over from: the provider keeps them
    # for their group's `timeout` once the new ones are up, so other nodes notice the change.
    hold: bool = False
    # What the plan keeps back that nodes.json asks for, and why (a group `infra rollback` took back).
    held: str = ""
    # A paused roll's next move, asked for by infra rollout promote or abort: "promote" or "abort".
    roll_command: str = ""
    # For an unchanged resource: the outputs observed, recorded so references to it resolve. For
    # one recorded but found gone: the outputs it had, so its provider can clean up after it.
    outputs: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def planned(cls, *, address: str, kind: str, group: str, action: ActionKind, after: dict[str, Any] | None,
                before: dict[str, Any] | None = None, changes: list[AttributeChange] | None = None,
                reason: str = "", depends_on: list[str] | None = None, protect: bool = False, held: str = "",
                outputs: dict[str, Any] | None = None) -> Action:
        """An action the planner made of values already of their types: not validated (and copied)
        again. A plan of 10,000 groups makes 60,000."""
        return cls.made(address=address, kind=kind, group=group, action=action, before=before, after=after,
                        changes=[] if changes is None else changes, reason=reason,
                        depends_on=[] if depends_on is None else depends_on, protect=protect, hold=False, held=held,
                        roll_command="", outputs={} if outputs is None else outputs)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def protected(self) -> bool:
        """This action would destroy a protected resource: apply refuses it without --allow-destroy."""
        return self.protect and self.action.destroys


class Notice(BaseModel):
    """Something the plan found that is not this project's and that it leaves alone: another
    project's resource where this one's would be (`owner` names it), or one infra made before it
    tagged owners (`owner` ""). A `blocking` one stops apply: it is of a group this project names and
    the plan would make it a second time, so it is probably this project's own, to adopt (--adopt)."""

    address: str
    owner: str
    description: str  # what it is: "autoscaling group web-1a2b3c4d in us-east-1"
    reason: str  # why it is left alone, and what to do
    blocking: bool = False
    import_command: str | None = None  # made without infra: the `infra import` that would adopt it

    @property
    def untagged(self) -> bool:
        return not self.owner


class MadeAgainst(BaseModel):
    lineage: str | None = None
    serial: int = 0
    config_digest: str = ""


# What each kind of action adds to the plan's closing counts (`Plan.summary`); a no-op adds nothing.
_COUNTED_AS: dict[ActionKind, tuple[str, ...]] = {
    ActionKind.CREATE: ("add",), ActionKind.UPDATE: ("change",), ActionKind.DELETE: ("destroy",),
    ActionKind.REPLACE: ("add", "destroy"), ActionKind.BUILD: ("build",), ActionKind.ADOPT: ("adopt",),
    ActionKind.REFRESH: ("refresh",), ActionKind.PROMOTE: ("promote",),
}


class Plan(BaseModel):
    actions: list[Action] = Field(default_factory=list)
    made_against: MadeAgainst = Field(default_factory=MadeAgainst)
    targets: list[str] = Field(default_factory=list)
    # What `--exclude` left out: the resources named and what depends on them (apply leaves them as they are).
    excluded: list[str] = Field(default_factory=list)
    # Only state changes (`refresh` actions): apply records what exists and changes nothing (--refresh-only).
    refresh_only: bool = False
    notices: list[Notice] = Field(default_factory=list)
    # What the plan does to the monthly bill (reconciler/cost.py); None when not estimated.
    cost: PlanCost | None = None

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.action.is_change]

    @property
    def held(self) -> list[Action]:
        """What the plan keeps from what nodes.json asks for (a rollback, a paused roll): the fleet and
        nodes.json differ, so `--detailed-exitcode` says 2 even when apply has nothing to do."""
        return [a for a in self.actions if a.held]

    def summary(self) -> dict[str, int]:
        """Counts the way Terraform's closing line does: a replace adds one and destroys one."""
        counts = dict.fromkeys(("add", "change", "destroy", "build", "adopt", "refresh", "promote"), 0)
        for action in self.actions:
            for counter in _COUNTED_AS.get(action.action, ()):
                counts[counter] += 1
        return counts


def recorded_as(action: Action, attributes: dict[str, Any], outputs: dict[str, Any], *, was: ResourceState | None,
                made_at: str | None = None) -> ResourceState:
    """What the state records of `action`'s resource once it holds `attributes` and `outputs`: made
    at `made_at` when given (just made), else when `was` (the resource as recorded before) says.
    Made, not validated: each value is of its type already (an action's), and pydantic's validated
    copy took an apply's scheduling thread 3.7 us an action (2.3 us made)."""
    return ResourceState.made(kind=action.kind, group=action.group, attributes=attributes, outputs=outputs,
                              depends_on=action.depends_on, protect=action.protect,
                              made_at=made_at if made_at is not None else was.made_at if was is not None else None)
