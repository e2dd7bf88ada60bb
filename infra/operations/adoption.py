"""`infra import GROUP --asg NAME | --launch-template ID | --ami ID | --instance ID`: adopt what was made
without infra into a group, by its id, chosen explicitly.

It is the adoption infra already knows (`@`, ActionKind.ADOPT: tag it as this project's, change
nothing else), planned for one resource and applied under the state lock: the resource gets the
tags infra knows its own by (`group`, `infra:managed`, `infra:owner`; an instance also `infra:name`
and its dna file), and the state records it as found, limited to the attributes infra manages.
The next plan then shows only how it differs from nodes.json. Refused, in one line, before
anything changes: what belongs to another project or group, what infra already manages, an
instance an ASG launched, a kind the group does not have, and a group that has one already.
"""

from __future__ import annotations

from typing import Any

from infra import engine
from infra.errors import InfraError
from infra.operations import fleet
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import attribute_changes
from infra.reconciler.executor import ApplyResult, Listener
from infra.reconciler.graph import MANAGED_TAG, OWNER_TAG, desired_graph
from infra.reconciler.plan import Action, MadeAgainst, Plan
from infra.reconciler.resources import address_of
from infra.workspace import Workspace

KINDS = ("asg", "launch_template", "ami", "instance")
GROUP_TAG = "group"
# Why a group has no resource of a kind to import into, and what to change in nodes.json.
MISSING = {"asg": "autoscale is off; set autoscale first", "launch_template": "autoscale is off; set autoscale first",
           "ami": "packer is false, so its nodes boot source_ami; set packer: true to build (and import) its own"}


class ImportRefused(InfraError):
    """What was named cannot be imported into that group."""


def refusal(tags: dict[str, str], *, group: str, owner: str, described: str, launched_by: str = "") -> str:
    """Why a resource found with `tags` may not be imported into `group` ("" when it may)."""
    if launched_by:
        return (f"{described} was launched by autoscaling group {launched_by} and comes and goes with it; import "
                f"the group instead: infra import {group} --asg {launched_by}")
    if tags.get(OWNER_TAG) == owner:
        return (f"{described} is already managed by this project (group {tags.get(GROUP_TAG, '?')}); there is "
                f"nothing to import")
    if tags.get(OWNER_TAG):
        return (f"{described} belongs to project {tags[OWNER_TAG]!r} ({OWNER_TAG}): infra never takes another "
                f"project's resources")
    if tags.get(MANAGED_TAG) == "true":
        return (f"{described} was made by infra before owner tags (group {tags.get(GROUP_TAG, '?')}): adopt it with "
                f"infra plan --adopt and infra apply --adopt, not import")
    if tags.get(GROUP_TAG, group) != group:
        return (f"{described} is tagged {GROUP_TAG}={tags[GROUP_TAG]}: it belongs to group {tags[GROUP_TAG]}; import "
                f"it there, or change its tag first")
    return ""


def import_resource(workspace: Workspace, plan: Plan, *, listener: Listener | None = None) -> ApplyResult:
    """Apply an import plan: tag the resource and record it, under the state lock; refused when the
    state changed since the plan was made."""
    return engine.apply_plan(workspace, plan, listener=listener)


def plan_import(workspace: Workspace, group_name: str, kind: str, ident: str, *, name: str | None = None) -> Plan:
    """The plan that adopts the resource of `kind` named `ident` into `group_name`: one `@` action."""
    config = workspace.config
    group = config.group(group_name)
    state = engine.read_state(workspace)
    desired = desired_graph(config, workspace.root)
    address, keys = _target(workspace, group, kind, ident, name, desired)
    finders = workspace.providers.offering("find_importable")
    if not finders:
        raise ImportRefused("infra import needs AWS, and no provider here can find what to import")
    found = finders[0].find_importable(kind, ident, group.name, group.region, _wanted(desired, address),
                                       name=address.rsplit(".", 1)[-1] if kind == "instance" else "")
    why = refusal(found.tags, group=group.name, owner=config.owner, described=found.description,
                  launched_by=found.launched_by)
    if why:
        raise ImportRefused(why)
    _refuse_taken(workspace, state, desired, group.name, kind, address)
    after = {key: value for key, value in found.after.attributes.items() if key in keys}
    depends, protect = (desired[address].depends_on, desired[address].protect) if address in desired else ((), False)
    action = Action(address=address, kind=kind, group=group.name, action=ActionKind.ADOPT,
                    before=found.before.attributes, after=after, outputs=found.after.outputs,
                    changes=attribute_changes(found.before.attributes, after), depends_on=list(depends),
                    protect=protect, reason=f"{found.description}, made without infra: imported into {group.name}")
    return Plan(actions=[action], targets=[address], made_against=MadeAgainst(
        lineage=state.lineage, serial=state.serial, config_digest=config.digest))


def _target(workspace: Workspace, group: Any, kind: str, ident: str, name: str | None,
            desired: Any) -> tuple[str, set[str]]:
    """The address the resource is imported at, and the attributes the state records of it."""
    if kind not in KINDS:
        raise ImportRefused(f"infra import takes one of --asg, --launch-template, --ami, --instance, not {kind}")
    if kind == "instance":
        name = name or ident
        if not fleet.INSTANCE_NAME.fullmatch(name):
            raise ImportRefused(f"--name {name!r}: use 1-64 letters, digits, '-' or '_'")
        model = fleet.instance_resource(group, name, "", "", workspace.root, workspace.config.owner)
        return model.address, set(model.attributes)
    if name is not None:
        raise ImportRefused("--name is for --instance: a group has one resource of each other kind")
    address = address_of(kind, group.name)
    if address not in desired:
        raise ImportRefused(f"group {group.name} has no {kind.replace('_', ' ')} in nodes.json to import this as "
                            f"({MISSING.get(kind, 'nodes.json does not want one')})")
    return address, set(desired[address].attributes)


def _wanted(desired: Any, address: str) -> dict[str, Any]:
    return dict(desired[address].attributes) if address in desired else {}


def _refuse_taken(workspace: Workspace, state: Any, desired: Any, group: str, kind: str, address: str) -> None:
    """Import adds what infra does not manage yet; it never stands in for what the group has."""
    recorded = state.resources.get(address)
    if recorded is not None:
        what = next((f" ({recorded.outputs[k]})" for k in ("name", "id", "image_id") if recorded.outputs.get(k)), "")
        raise ImportRefused(f"{address} is already managed{what}: {group} has its {kind.replace('_', ' ')}; to "
                            f"swap it, remove that one first (infra state rm {address} forgets it)")
    found = engine.observe(workspace, desired, state, engine.Selection([group], [kind]), orphans=False).found
    if address in found:
        raise ImportRefused(f"{address} exists already (this project's, not in the state yet): {group} has its "
                            f"{kind.replace('_', ' ')}; run infra plan to record it")
