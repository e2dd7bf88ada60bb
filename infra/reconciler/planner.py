"""The planner: a pure function (desired, observed, state) -> Plan. No I/O, no clock, no AWS.

For each desired resource, in dependency order, it resolves references to what upstream
resources output (unknown when the upstream is about to change), compares with what was
observed, and picks the action the resource's kind calls for. What state or observation holds
but the config no longer wants is planned for deletion, dependants first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.errors import ConfigError
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import attribute_changes, managed_part
from infra.reconciler.graph import HASH_TAG, PROTECT_TAG, Graph
from infra.reconciler.holds import held_back, paused_roll
from infra.reconciler.kept import scope_with, unwanted_kept, why_kept_goes
from infra.reconciler.kinds import kind_of
from infra.reconciler.order import dependencies_first
from infra.reconciler.plan import Action, MadeAgainst, Notice, Plan, changed_attributes
from infra.reconciler.promotion import is_promoted, promoted_action
from infra.reconciler.refs import resolve, unresolved
from infra.reconciler.renames import Takeovers
from infra.reconciler.resources import Observed, Resource, Unowned, address_of, split_address
from infra.reconciler.working_tree import explained
from infra.state.model import ResourceState, State


def plan(desired: Graph, observed: dict[str, Observed], state: State, *,
         scope: set[str] | None = None, made_against: MadeAgainst | None = None,
         forced: Iterable[str] = (), unowned: Iterable[Unowned] = (), adopt: bool = False,
         sources: dict[str, Observed] | None = None) -> Plan:
    """Compute the actions that make the world match `desired`.

    `observed` is this project's resources. `scope` limits the plan to those addresses (a
    targeted plan); resources outside it are taken as they are observed. `forced` addresses are
    replaced even when unchanged (a requested blue/green roll). `unowned` is what was found that
    is not this project's: it is never changed, only noticed, except that with `adopt` what infra
    made before owner tags, of a group nodes.json or the state names, is adopted (tagged as this
    project's; the next plan shows how it differs from nodes.json). `sources` are the AMIs of the
    environment this one promotes from, by the address of the promoted AMI (see promotion.py).
    """
    in_scope = (lambda address: True) if scope is None else scope.__contains__
    forced = set(forced)
    planned: dict[str, Action] = {}
    adopted, notices = _unowned(unowned, desired, observed, state, in_scope, adopt=adopt)

    output = _outputs(planned, observed, state, in_scope)
    for resource in desired:
        if not in_scope(resource.address):
            continue
        # A reference names something the resource depends on (graph.py makes both together): with
        # nothing to depend on there is nothing to resolve (roles, Packer templates, dna files: the
        # largest documents, half a warm 10,000-group plan's resolving walk).
        after = resolve(resource.attributes, output) if resource.depends_on else resource.attributes
        if resource.address in adopted:
            planned[resource.address] = _adoption(adopted[resource.address], after, protect=resource.protect)
        elif is_promoted(after):
            planned[resource.address] = _promotion(resource, after, observed.get(resource.address), state,
                                                   (sources or {}).get(resource.address))
        else:
            action = _action_for(resource, after, observed.get(resource.address), state,
                                 forced=resource.address in forced)
            planned[resource.address] = explained(action, state.resources.get(resource.address))
    for address, item in adopted.items():
        if address not in desired:  # recorded in state, no longer wanted: the next plan deletes it
            recorded = state.resources.get(address)
            planned[address] = _adoption(item, recorded.attributes if recorded else {},
                                         protect=recorded is not None and recorded.protect)

    actions = list(planned.values())
    kept = unwanted_kept(desired, observed, planned, in_scope)
    if kept:  # an old ASG kept warm goes as a leftover does, with its group's ASG or once none is kept (kept.py)
        observed = {**observed, **kept}
        in_scope = scope_with(in_scope, kept)
    actions.extend(_deletions(desired, observed, state, in_scope, planned=actions, adopted=adopted))
    return Plan(actions=actions, made_against=made_against or MadeAgainst(lineage=state.lineage, serial=state.serial),
                targets=sorted(scope) if scope is not None else [], notices=notices)


def _outputs(planned: dict[str, Action], observed: dict[str, Observed], state: State, in_scope):
    """The lookup references resolve through: an output as it will be once `planned` (so far) is
    applied, or None while it is not known before apply."""
    def output(address: str, name: str) -> Any:
        action = planned.get(address)
        if action is not None and action.action is ActionKind.ADOPT:
            return action.outputs.get(name)
        if action is not None and action.action.is_change and not _keeps(action, name):
            return None
        if action is not None and name in action.outputs:  # what it resolved to (an earlier AMI reused)
            return action.outputs[name]
        found = observed.get(address)
        if found is not None and name in found.outputs:
            return found.outputs[name]
        recorded = state.resources.get(address)
        # Outside a targeted plan a resource may not have been looked at (autoscale:update observes
        # launch templates and ASGs only): it is taken as recorded, not as unknown.
        seen_or_unasked = found is not None or not in_scope(address)
        return recorded.outputs.get(name) if recorded is not None and seen_or_unasked else None

    return output


def _unowned(unowned: Iterable[Unowned], desired: Graph, observed: dict[str, Observed], state: State, in_scope,
             *, adopt: bool) -> tuple[dict[str, Unowned], list[Notice]]:
    """What of `unowned` to adopt (by address), and what to say about the rest.

    Only what infra made before owner tags can be adopted, and only for a group that nodes.json or
    the state names (a group neither names may be another repository's), where nothing of this
    project's stands at its address. Without `adopt`, those that the plan would otherwise make a
    second time block the apply: a second fleet beside the first is never what was meant."""
    named = {r.group for r in desired} | {r.group for r in state.resources.values()}
    adopted: dict[str, Unowned] = {}
    notices: list[Notice] = []
    for item in unowned:
        if not in_scope(item.address):
            continue
        blocking = False
        if item.importable:  # made without infra: never adopted by itself, not even with --adopt
            command = f"infra import {split_address(item.address)[1]} {item.importable}"
            notices.append(Notice(address=item.address, owner="", description=item.description,
                                  reason=f"made without infra, named like this group's: left alone, infra makes its "
                                         f"own; to manage this one instead, import it: {command}",
                                  import_command=command))
            continue
        if item.owner:
            reason = f"belongs to project {item.owner!r}: left alone"
        elif split_address(item.address)[1] not in named or item.observed is None:
            reason = "made by infra before owner tags, for a group neither nodes.json nor the state names: left alone"
        elif item.address in observed or _group_address(item.address) in observed:  # asg.web.<name> beside asg.web
            reason = "made by infra before owner tags, beside this project's own: left alone"
        elif adopt:
            adopted[item.address] = item
            continue
        elif item.address in desired or item.address in state.resources:
            blocking = True
            reason = ("made by infra before owner tags, where this project would make its own: apply refuses to "
                      "run until it is adopted (plan and apply with --adopt) or the repository that made it adopts it")
        else:
            reason = "made by infra before owner tags: left alone; plan and apply with --adopt to adopt it"
        notices.append(Notice(address=item.address, owner=item.owner, description=item.description, reason=reason,
                              blocking=blocking))
    return adopted, notices


def _group_address(address: str) -> str:
    """The group's own address of what stands at `address` (`asg.web.web-old` -> `asg.web`)."""
    kind, group, _ = split_address(address)
    return address_of(kind, group)


def _adoption(item: Unowned, wanted: dict[str, Any], *, protect: bool) -> Action:
    """Adopt what infra made before owner tags: tag it, change nothing else. What is recorded is
    what nodes.json wants when that is known now, else what was found."""
    kind, group, _ = split_address(item.address)
    found = item.observed or Observed()
    return Action(address=item.address, kind=kind, group=group, action=ActionKind.ADOPT, before=found.attributes,
                  after=wanted if wanted and not unresolved(wanted) else found.attributes, outputs=found.outputs,
                  protect=protect,
                  reason=f"{item.description}, made by infra before owner tags: adopted as this project's (--adopt)")


def _keeps(action: Action, output: str) -> bool:
    """Whether `output` stays what it is now through `action` (known at plan time)."""
    if action.action is not ActionKind.UPDATE:
        return False
    kind = kind_of(action.kind)
    return output in kind.kept_on_update or set(changed_attributes(action.changes)) <= kind.outside_versions


def _action_for(resource: Resource, after: dict[str, Any], found: Observed | None, state: State,
                *, forced: bool) -> Action:
    kind = kind_of(resource.kind)
    recorded = state.resources.get(resource.address)
    _refuse_region_move(resource, after, recorded)
    base: dict[str, Any] = dict(address=resource.address, kind=resource.kind, group=resource.group,
                                depends_on=list(resource.depends_on), after=after, protect=resource.protect)
    if found is None:
        if recorded is None:
            return Action.planned(action=kind.create, reason="does not exist yet", **base)
        return Action.planned(action=kind.create, reason="recorded in state but gone; will be made again",
                              outputs=recorded.outputs, **base)
    before = _with_recorded(kind, found.attributes, recorded, after)
    if kind.by_digest:
        return _by_digest(resource, after, found, recorded.attributes if recorded else None, base)
    if kind.rolls and before.get("roll") and not forced:
        return paused_roll(resource, before, after, found, base)
    if forced:
        return Action.planned(action=ActionKind.REPLACE, before=before, changes=attribute_changes(before, after),
                              reason="replacement requested", **base)
    after, held = held_back(kind, resource.group, before, after)
    base.update(after=after, held=held)
    changes = attribute_changes(before, after)
    if not changes:
        return Action.planned(action=ActionKind.NOOP, before=before, reason="up to date", outputs=found.outputs, **base)
    roots = changed_attributes(changes)
    forcing = [r for r in roots if r in kind.replace_on]
    if forcing:
        pending = [r for r in forcing if unresolved(after.get(r))]
        why = ("an upstream change gives it a new " if pending else "changed ") + ", ".join(forcing)
        return Action.planned(action=ActionKind.REPLACE, before=before, changes=changes,
                              reason=f"{why}, which cannot change in place", **base)
    return Action.planned(action=ActionKind.UPDATE, before=before, changes=changes,
                          reason="changed: " + ", ".join(roots), **base)


def _with_recorded(kind, found: dict[str, Any], recorded: ResourceState | None,
                   after: dict[str, Any]) -> dict[str, Any]:
    """What was found, with the attributes AWS does not hold, or that something else moves (sizes a
    scaling policy owns), as they were applied (or as wanted, with nothing recorded: nothing says
    otherwise)."""
    keys = kind.recorded(after)
    if not keys:
        return found
    applied = recorded.attributes if recorded is not None else after
    return {**found, **{key: applied.get(key) for key in keys if key in after}}


def _promotion(resource: Resource, after: dict[str, Any], found: Observed | None, state: State,
               source: Observed | None) -> Action:
    recorded = state.resources.get(resource.address)
    _refuse_region_move(resource, after, recorded)
    base: dict[str, Any] = dict(address=resource.address, kind=resource.kind, group=resource.group,
                                depends_on=list(resource.depends_on), after=after, protect=resource.protect)
    return promoted_action(resource, after, found, source, recorded.attributes if recorded else None, base)


def _refuse_region_move(resource: Resource, after: dict[str, Any], recorded: ResourceState | None) -> None:
    """infra looks for a resource in the region nodes.json names; one recorded in another region
    would be made again there and the old one left running, unseen. So a move is refused, with
    the way to do it."""
    was = recorded.attributes.get("region") if recorded is not None else None
    now = after.get("region")
    if was and now and was != now:
        raise ConfigError(f"group {resource.group} moves from {was} to {now} ({resource.address} is in {was}): "
                          f"infra does not move a group between regions; put region back to {was}, or add the "
                          f"group under a new name in {now}, apply, then remove the old one (apply deletes it "
                          f"in {was})")


def _by_digest(resource: Resource, after: dict[str, Any], found: Observed, recorded: dict[str, Any] | None,
               base: dict[str, Any]) -> Action:
    """Artifacts like AMIs carry a digest of what they were built from; a new digest is a new build.
    Attributes outside the digest (an AMI's tags) are compared one by one and updated in place."""
    kind = kind_of(resource.kind)
    pending = unresolved(after)
    wanted_digest = kind.build_digest(after) if not pending else None
    newest, found = found, found.built_from(wanted_digest) if wanted_digest is not None else found
    if wanted_digest is not None and found.attributes.get("source_hash") == wanted_digest:
        wanted = {k: v for k, v in after.items() if k in kind.outside_versions}
        seen = {k: managed_part(found.attributes.get(k), v, (recorded or {}).get(k)) for k, v in wanted.items()}
        changes = attribute_changes(seen, wanted)
        reused = "" if found is newest else f"; reuses {found.outputs.get('image_id')}, an earlier build of them"
        if changes:
            return Action.planned(action=ActionKind.UPDATE, before={**(recorded or after), **seen}, changes=changes,
                                  reason="changed: " + ", ".join(changed_attributes(changes)) + reused,
                                  outputs=found.outputs, **base)
        return Action.planned(action=ActionKind.NOOP, before=recorded or after,
                              reason="built from the same inputs" + reused, outputs=found.outputs, **base)
    changes = attribute_changes(recorded, after) if recorded is not None else []
    if pending:
        reason = "its source changes first: " + ", ".join(p[2:-1] for p in pending)
    elif not found.attributes.get("source_hash"):
        reason = (f"what {found.outputs.get('image_id')} was built from is unknown (it has no {HASH_TAG} tag: made "
                  f"without infra and imported?): a build makes one from nodes.json's inputs")
    elif [c for c in changes if c.attribute not in kind.outside_versions]:
        reason = "built from changed inputs: " + ", ".join(
            a for a in changed_attributes(changes) if a not in kind.outside_versions)
    else:
        reason = "the newest AMI was built from other inputs"
    return Action.planned(action=ActionKind.BUILD, before=recorded, changes=changes, reason=reason, **base)


def _deletions(desired: Graph, observed: dict[str, Observed], state: State, in_scope,
               planned: list[Action], adopted: dict[str, Unowned]) -> list[Action]:
    """Delete what is recorded or found but no longer desired, dependants before dependencies.

    A deletion also waits for the desired resources that were built on what it deletes (an AMI
    waits for the launch template and the ASG roll that stop using it). The nodes of a group
    gone from nodes.json wait for the nodes of the groups new in this plan that take over from
    it (renames.py), and are held for their `timeout` after: a renamed group's old ASG goes once
    the new one is in service, and stays when it never gets there. A one-off instance found but
    not recorded, whose group still exists, is adopted, never deleted: it was made on request and
    the state lost track of it (`state rm`, a lost state file).
    """
    found_only = sorted(a for a in observed if a not in state.resources)  # in a stable order
    unwanted = [a for a in (*state.resources, *found_only) if a not in desired and a not in adopted and in_scope(a)]
    if not unwanted:
        return []
    takeovers = Takeovers(planned, desired, observed, state)
    changing = {a.address for a in planned if a.action.is_change}
    inferred = _inferred_dependencies([a for a in unwanted if a not in state.resources], unwanted)
    depends: dict[str, list[str]] = {a: (state.resources[a].depends_on if a in state.resources else inferred[a])
                                     for a in unwanted}
    groups = {resource.group for resource in desired}
    for node, role in takeovers.evidence(unwanted, groups).items():
        if not depends[role]:  # a role is built on nothing: no cycle
            depends[node] = [*depends[node], role]
    built_on = _recorded_dependants(state)
    actions: list[Action] = []
    for address in reversed(dependencies_first(unwanted, depends.__getitem__, ignore_cycles=True)):
        kind, group, _ = split_address(address)
        found = observed.get(address)
        if found is None:
            actions.append(Action(address=address, kind=kind, group=group, action=ActionKind.NOOP, after=None,
                                  before=state.resources[address].attributes,
                                  reason="no longer in nodes.json and already gone; forgotten from state"))
            continue
        recorded = state.resources.get(address)
        if recorded is None and kind_of(kind).on_request and group in groups:
            actions.append(Action(address=address, kind=kind, group=group, action=ActionKind.NOOP,
                                  before=found.attributes, after=found.attributes, outputs=found.outputs,
                                  reason="made on request but not in state: adopted"))
            continue
        dependants = [other for other in unwanted if address in depends[other]]
        users = built_on(address) if recorded is not None else _group_users(address, desired)
        dependants += [user for user in users if user in desired and user in changing and user not in dependants]
        reason = why_kept_goes(address, found, desired) or _why_unwanted(address, desired, groups)
        starting, why = takeovers.successors(group) if kind_of(kind).serves and group not in groups else ([], "")
        hold = bool(starting)
        if hold:
            dependants += [new for new in starting if new not in dependants]
            reason += "; deleted once " + _listed(starting) + " " + ("is" if len(starting) == 1 else "are") + " up"
            if found.attributes.get("timeout"):
                reason += f", after its timeout ({found.attributes['timeout']}s)"
            reason += f"; {_listed(starting)} take{'s' if len(starting) == 1 else ''} over: {why}"
        actions.append(Action(address=address, kind=kind, group=group, action=ActionKind.DELETE,
                              before=found.attributes, after=None, depends_on=dependants, hold=hold,
                              protect=_protected(kind, recorded, found, removed=group not in groups),
                              reason=reason))
    return actions


def _why_unwanted(address: str, desired: Graph, groups: set[str]) -> str:
    kind, group, name = split_address(address)
    if kind_of(kind).leftover:
        return kind_of(kind).leftover
    if not group:
        return "not in nodes.json"
    if name and address_of(kind, group) in desired:
        return f"left beside {address_of(kind, group)} by an interrupted roll"
    if group in groups:
        return f"nodes.json no longer wants it (group {group} is still there, without a {kind})"
    return "no longer in nodes.json"


def _group_users(address: str, desired: Graph) -> list[str]:
    """For an orphan (no state entry, so no recorded users): the desired resources of its group of
    the kinds built on its kind (the launch template that stops using an AMI)."""
    kind, group, _ = split_address(address)
    return [r.address for r in desired if r.group == group and kind in kind_of(r.kind).built_on]


def _inferred_dependencies(orphans: list[str], unwanted: list[str]) -> dict[str, list[str]]:
    """What each orphan (found, with no state entry) was built on: the unwanted resources of its
    group of the kinds its kind is built on, so that an ASG goes before its launch template."""
    of_group: dict[str, list[str]] = {}
    for address in unwanted:
        of_group.setdefault(split_address(address)[1], []).append(address)
    return {orphan: [other for other in of_group[split_address(orphan)[1]]
                     if split_address(other)[0] in kind_of(split_address(orphan)[0]).built_on]
            for orphan in orphans}


def _protected(kind: str, recorded: ResourceState | None, found: Observed, *, removed: bool) -> bool:
    """Protected when it was applied so, or, for a group gone from nodes.json, when it carries the
    protect tag (the state may be lost). A leftover of a group still there (an interrupted roll's
    ASG) is not: nodes.json says what of that group is protected."""
    tagged = (found.attributes.get("tags") or {}).get(PROTECT_TAG) == "true"
    return (recorded is not None and recorded.protect) or (removed and kind_of(kind).protectable and tagged)


def _listed(addresses: list[str], at_most: int = 3) -> str:
    shown = ", ".join(addresses[:at_most])
    return shown + (f" and {len(addresses) - at_most} more" if len(addresses) > at_most else "")


def _recorded_dependants(state: State):
    """address -> every recorded resource built on it, directly or through others."""
    direct: dict[str, list[str]] = {}
    for address, recorded in state.resources.items():
        for dependency in recorded.depends_on:
            direct.setdefault(dependency, []).append(address)

    def built_on(address: str) -> list[str]:
        found: dict[str, None] = {}
        stack = list(direct.get(address, ()))
        while stack:
            user = stack.pop()
            if user not in found:
                found[user] = None
                stack.extend(direct.get(user, ()))
        return list(found)

    return built_on
