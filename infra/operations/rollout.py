"""`infra rollout status [GROUP]`, `infra rollout promote GROUP`, `infra rollout abort GROUP`.

A roll that reached a `{"pause": "manual"}` step stopped there, both ASGs serving: the new one at
the canary's size, the old one at full size. Where it stands is data, not a waiting process (as in
Argo Rollouts: a pause is a condition in the rollout's status, promote removes it): the new ASG's
tags (`infra:roll=paused`, `infra:roll_step`, `infra:roll_since`, `infra:roll_steps`) and the
group's state outputs (`roll`). So any machine that reads the same state and AWS can go on (promote:
the steps after the pause, then the take-over, as one apply of the group's ASG) or go back (abort:
the new ASG goes, the old one, never scaled down, stays; it is held at its version until nodes.json
changes, as after infra rollback). A promote refuses when nodes.json's steps up to the paused one
are no longer those the roll ran (rolls.steps_changed): the step recorded would point elsewhere.
The alarms the roll watches are still honoured while it waits: one in ALARM aborts the roll on the
next status or promote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import engine
from infra.errors import InfraError
from infra.reconciler.actions import ActionKind
from infra.reconciler.drift import held_by_infra
from infra.reconciler.executor import ApplyResult, Listener
from infra.reconciler.plan import Action, Plan
from infra.reconciler.resources import Observed
from infra.reconciler.rolls import goes_on, steps_changed, written_steps
from infra.workspace import Workspace


@dataclass(frozen=True)
class RollStatus:
    """Where one group's roll stands: `state` is paused, held (rolled back or aborted) or none."""

    group: str
    state: str
    asg: str  # the ASG that serves (the old one, while a roll is paused beside it)
    line: str  # in words, with the command that goes on
    roll: dict[str, Any] | None = None  # the paused roll as recorded: its ASG, step, since, instances
    aborted: str = ""  # why status aborted it (an alarm in ALARM while it waited)


def status(workspace: Workspace, groups: list[str], listener: Listener | None = None) -> list[RollStatus]:
    """Each group's roll (every group with an ASG when none is named). A paused roll whose alarms
    fire is aborted here, and says so."""
    names = groups or [name for name, group in workspace.config.groups.items() if group.autoscale is not None]
    plan = engine.make_plan(workspace, engine.Selection(names, {"asg"}, with_dependencies=False))
    found = []
    for action in plan.actions:
        if action.kind != "asg" or action.address != f"asg.{action.group}" or action.group not in names:
            continue
        found.append(_status_of(workspace, action, listener))
    return found


def _status_of(workspace: Workspace, action: Action, listener: Listener | None) -> RollStatus:
    before = action.before or {}
    serving = str(before.get("name") or "")
    if not before:
        return RollStatus(action.group, "none", serving, f"{action.group}: no ASG yet")
    paused = before.get("roll")
    if paused:
        firing = _firing(workspace, action)
        if firing:
            why = f"alarm {firing[0]} is in ALARM while the roll was paused"
            result = abort(workspace, action.group, listener, why=why)
            line = f"{action.group}: {why}: aborted" + ("" if result.ok else f" (failed: {_failures(result)})")
            return RollStatus(action.group, "aborted", serving, line, paused, aborted=why)
        return RollStatus(action.group, "paused", serving, f"{action.group}: {action.held}", paused)
    held = held_by_infra(action.group, Observed(attributes=before))
    if held:
        return RollStatus(action.group, "held", serving, f"{action.group}: {held}")
    return RollStatus(action.group, "none", serving, f"{action.group}: no roll under way; {serving} serves")


def promote(workspace: Workspace, group: str, listener: Listener | None = None) -> ApplyResult:
    """Go on with the group's paused roll: the steps after the pause, then the take-over."""
    plan, action = _paused_plan(workspace, group)
    paused = (action.before or {})["roll"]
    changed = steps_changed(group, paused, (action.after or {}).get("rollout") or {})
    if changed:  # before anything moves: the roll stays paused, abort still goes back
        raise InfraError(f"asg.{group}: {changed}")
    step = int(paused.get("step") or 0)
    steps = len(written_steps((action.after or {}).get("rollout") or {}))
    reason = f"infra rollout promote: the roll goes on {goes_on(step, steps)} (it was paused at step {step + 1})"
    return _apply(workspace, plan, action, "promote", reason, listener)


def abort(workspace: Workspace, group: str, listener: Listener | None = None, *,
          why: str = "") -> ApplyResult:
    """Undo the group's paused roll: its new ASG goes; the old one, serving at full size, stays."""
    plan, action = _paused_plan(workspace, group)
    return _apply(workspace, plan, action, "abort", why or f"infra rollout abort {group}", listener)


def _paused_plan(workspace: Workspace, group: str) -> tuple[Plan, Action]:
    if workspace.config.group(group).autoscale is None:
        raise InfraError(f"group {group!r} has no autoscale block in {workspace.config.path}: no roll to go on with")
    address = f"asg.{group}"
    plan = engine.make_plan(workspace, engine.Selection([group], {"asg"}, with_dependencies=False), forced=[address])
    action = next((a for a in plan.actions if a.address == address), None)
    if action is None or action.action is not ActionKind.REPLACE:
        raise InfraError(f"{address} does not exist: no roll to go on with (infra apply makes it)")
    if not (action.before or {}).get("roll"):
        raise InfraError(f"{address} ({(action.before or {}).get('name')}) has no paused roll: nothing to promote "
                         f"or abort (infra rollout status {group} says where it stands)")
    return plan, action


def _apply(workspace: Workspace, plan: Plan, action: Action, command: str, reason: str,
           listener: Listener | None) -> ApplyResult:
    """One action: the paused roll's `command`, recording what the group runs after it."""
    before = action.before or {}
    paused = before["roll"]
    ran = paused if command == "promote" else before  # what serves once it is done
    after = {**(action.after or {}), "launch_template_id": ran.get("launch_template_id"),
             "launch_template_version": ran.get("launch_template_version")}
    moved = action.model_copy(update={"after": after, "reason": reason, "roll_command": command, "held": ""})
    only = plan.model_copy(update={"actions": [moved if a is action else a for a in plan.actions
                                               if a is action or not a.action.is_change]})
    return engine.apply_plan(workspace, only, listener=listener)


def _firing(workspace: Workspace, action: Action) -> list[str]:
    """The roll's alarms in ALARM now (nodes.json names them; the paused roll watches them)."""
    from infra.providers.aws import alarms

    names = ((action.after or {}).get("rollout") or {}).get("alarms") or []
    if not names:
        return []
    region = (action.before or {}).get("region") or (action.after or {}).get("region")
    return alarms.firing(workspace.aws_clients, str(region), names)


def _failures(result: ApplyResult) -> str:
    return "; ".join(f"{address}: {message}" for address, message in result.failed.items())
