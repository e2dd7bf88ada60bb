"""The engine: observe, plan, apply and detect drift for a workspace. The CLI's one entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from infra.errors import InfraError, StalePlanError, StateError
from infra.fsutil import atomic_write_text
from infra.notify import Announcer, Notifying
from infra.reconciler.actions import ActionKind
from infra.reconciler.cost import estimate
from infra.reconciler.drift import DriftReport, detect_drift
from infra.reconciler.exclude import check_names, left_out
from infra.reconciler.executor import ApplyResult, Executor, Listener, QuietListener
from infra.reconciler.graph import Graph, desired_graph, scanned_regions, topological, with_recorded
from infra.reconciler.kinds import kind_of
from infra.reconciler.plan import MadeAgainst, Plan
from infra.reconciler.plan_json import dump_plan, read_plan
from infra.reconciler.planner import plan as compute_plan
from infra.reconciler.refresh import check_refresh, refresh_plan, refreshed
from infra.reconciler.refs import unresolved
from infra.reconciler.resources import Observation, Resource, split_address
from infra.reconciler.shared_values import share_observed, share_recorded
from infra.state.backend import locked
from infra.state.model import State
from infra.workspace import Workspace


class Selection:
    """Which resources a command is about: some groups, some kinds, or everything; less what
    `exclude` names (groups or addresses) and what depends on that (reconciler/exclude.py)."""

    def __init__(self, groups: Iterable[str] = (), kinds: Iterable[str] = (), *, with_dependencies: bool = True,
                 exclude: Iterable[str] = ()):
        self.groups, self.kinds = set(groups), set(kinds)
        self.with_dependencies = with_dependencies
        self.exclude = set(exclude)

    @property
    def everything(self) -> bool:
        return not self.groups and not self.kinds

    def matches(self, address: str) -> bool:
        kind, group, _ = split_address(address)
        return (not self.groups or group in self.groups) and (not self.kinds or kind in self.kinds)

    def scope(self, desired: Graph, addresses: Iterable[str]) -> set[str] | None:
        if self.everything:
            return None
        chosen = {a for a in addresses if self.matches(a)}
        if self.with_dependencies:
            stack = [a for a in chosen if a in desired]
            while stack:
                for dependency in desired[stack.pop()].depends_on:
                    kind = split_address(dependency)[0]
                    if dependency not in chosen and dependency in desired and (not self.kinds or kind in self.kinds):
                        chosen.add(dependency)
                        stack.append(dependency)
        return chosen


def observe(workspace: Workspace, desired: Graph, state: State, selection: Selection, *, orphans: bool = True):
    """Ask the providers about every resource in the selection, desired or recorded (and, for a
    plan of everything with `orphans`, for what infra made that neither names)."""
    wanted: dict[str, Resource] = {r.address: r for r in desired}
    for address, recorded in state.resources.items():
        if address not in wanted:
            kind, group, name = split_address(address)
            wanted[address] = Resource(kind=kind, group=group, name=name, attributes=recorded.attributes,
                                       depends_on=tuple(recorded.depends_on))
    scope = selection.scope(desired, wanted)
    asked = [r for a, r in wanted.items() if scope is None or a in scope]
    kinds = selection.kinds or None
    observation = workspace.providers.observe(asked, kinds=kinds, orphans=orphans and selection.everything)
    return workspace.providers.confirm(observation, asked, state.resources)  # recorded, not listed: asked by id


def recorded_regions(state: State) -> dict[str, set[str | None]]:
    """The regions the state records resources in, by kind: a plan observes there (at least)."""
    regions: dict[str, set[str | None]] = {}
    for recorded in state.resources.values():
        regions.setdefault(recorded.kind, set()).add(recorded.attributes.get("region"))
    return regions


def start_scans(workspace: Workspace, regions: dict[str, set[str | None]]) -> bool:
    """Start the bulk scans observe will read in `regions` (by kind), to page while the plan reads the
    state and builds its graph (aws/early_pages.py): the ASG scan is a warm plan's longest chain of
    round trips. Nothing to start, nothing is made (a plan of nodes.json without ASGs loads no boto3 yet).
    Whether something was started."""
    if not any(regions.values()):
        return False
    workspace.providers.start_scans(regions)
    return True


def make_plan(workspace: Workspace, selection: Selection | None = None, *, forced: Iterable[str] = (),
              adopt: bool = False, refresh_only: bool = False) -> Plan:
    selection = selection or Selection()
    if refresh_only:
        if adopt:
            raise InfraError("--adopt and --refresh-only do not go together: a refresh-only plan changes nothing in "
                             "AWS; adopt first (plan and apply --adopt), then refresh")
        return make_refresh_plan(workspace, selection)
    config = workspace.config
    for group in selection.groups:
        config.group(group)  # unknown names are an error, with a suggestion
    early = selection.everything
    started = False
    try:
        started = start_scans(workspace, scanned_regions(config) if early else {})  # before the state is read
        state = read_state(workspace)
        started = start_scans(workspace, recorded_regions(state) if early else {}) or started
        desired = with_recorded(desired_graph(config, workspace.root), state, config.groups)
        share_recorded(desired, state)
        observation = observe(workspace, desired, state, selection)
    finally:
        if started:
            workspace.providers.stop_scans()
    share_observed(observation.found, state)
    known = {*state.resources, *observation.found, *(u.address for u in observation.unowned)}
    scope, excluded = scoped(selection, desired, state, {*desired.resources, *known})
    look_alikes(workspace, [r for r in desired if r.address not in known and (scope is None or r.address in scope)],
                observation)
    planned = compute_plan(desired, observation.found, state, scope=scope, forced=forced,
                           unowned=observation.unowned, adopt=adopt, sources=observation.sources,
                           made_against=MadeAgainst(lineage=state.lineage, serial=state.serial,
                                                    config_digest=config.digest))
    planned.excluded = sorted(excluded)
    check_plan(workspace, planned)
    planned.cost = estimate(planned.actions, workspace.prices)
    return planned


def desired_of(workspace: Workspace, groups: Iterable[str] = ()) -> Graph:
    """What nodes.json wants, of `groups` and what they depend on (every group when none), without
    reading state or observing anything."""
    config = workspace.config
    desired = desired_graph(config, workspace.root)
    groups = list(groups)
    if not groups:
        return desired
    for group in groups:
        config.group(group)  # unknown names are an error, with a suggestion
    scope = Selection(groups).scope(desired, desired.resources) or set()
    return Graph({address: r for address, r in desired.resources.items() if address in scope})


def check_plan(workspace: Workspace, plan: Plan) -> None:
    """What the plan would use outside infra (a security group, a source AMI) exists: a typo is a
    located error now, before anything changes, not a failed apply."""
    for checker in workspace.providers.offering("check_plan"):
        checker.check_plan(plan.actions)


def look_alikes(workspace: Workspace, making: list[Resource], observation: Observation) -> None:
    """Add to `observation` what was made without infra and is named like what the plan would make
    (`making`): the plan says it can be imported, and never adopts it (providers/aws/adoption.py)."""
    if making:
        for finder in workspace.providers.offering("look_alikes"):
            observation.unowned.extend(finder.look_alikes(making))


def scoped(selection: Selection, desired: Graph, state: State, addresses: set[str]) -> tuple[set[str] | None,
                                                                                           set[str]]:
    """Of `addresses`, those a plan of `selection` covers (None: all of them), and what --exclude left out."""
    scope = selection.scope(desired, addresses)
    if not selection.exclude:
        return scope, set()
    check_names(selection.exclude, addresses)
    excluded = left_out(selection.exclude, desired, state, addresses if scope is None else scope)
    return (addresses if scope is None else scope) - excluded, excluded


def read_state(workspace: Workspace) -> State:
    """The state, refused when another project applied it: its resources are tagged with that
    project's name, so under this one's they would all look gone and be made a second time."""
    state = workspace.backend.read()
    project, owner = workspace.config.project, workspace.config.owner
    if state.owner and state.owner != owner and (workspace.config.environment or "/" in state.owner):
        raise InfraError(f"the state in {workspace.backend.description} was applied by {state.owner!r}, but this "
                         f"is {owner!r} (<project>/<environment>); each environment has a state of its own: check "
                         f"--env (or INFRA_ENV) and the environment's state in {workspace.config.path}")
    if state.owner and state.owner != owner:
        raise InfraError(f"the state in {workspace.backend.description} was applied by project {state.owner!r}, but "
                         f"this is project {project.name!r} (from {project.source}); to keep managing what it "
                         f"made, set \"__settings__\": {{\"project\": \"{state.owner}\"}} in {workspace.config.path}")
    return state


def save_plan(plan: Plan, path: Path) -> None:
    if not Path(path).absolute().parent.is_dir():
        raise InfraError(f"{path}: the directory {Path(path).parent} does not exist; make it first")
    atomic_write_text(path, dump_plan(plan), private=True)


def load_plan(path: Path) -> Plan:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InfraError(f"{path}: no such plan file") from None
    except UnicodeDecodeError:
        raise InfraError(f"{path}: not a plan file made by infra plan --out (not text)") from None
    return read_plan(text, str(path))


def check_fresh(workspace: Workspace, plan: Plan, state: State) -> None:
    """Refuse a saved plan when what it was made against has changed since."""
    against = plan.made_against
    if against.lineage and state.lineage and against.lineage != state.lineage:
        raise StalePlanError("the saved plan is stale: it was made against another state (lineage "
                             f"{against.lineage}, now {state.lineage}); run infra plan again")
    if against.serial != state.serial:
        raise StalePlanError(f"the saved plan is stale: the state changed since it was made (serial "
                             f"{against.serial}, now {state.serial}); run infra plan again")
    if against.config_digest != workspace.config.digest:
        raise StalePlanError(f"the saved plan is stale: {workspace.config.path} changed since it was made; "
                             f"run infra plan again")


def apply_plan(workspace: Workspace, plan: Plan, *, parallelism: int = 10, listener: Listener | None = None,
               saved: bool = False, allow_destroy: bool = False) -> ApplyResult:
    """Apply `plan` under the state lock, recording state after each step (a refresh-only plan:
    recording what it found, and nothing else)."""
    protected = [a.address for a in plan.changes if a.protected]
    if protected and not allow_destroy:
        raise InfraError(f"the plan destroys or replaces protected resources ({', '.join(protected)}); "
                         f"pass --allow-destroy if that is intended")
    refuse_unadopted(plan)
    check_refresh(plan)
    backend = workspace.backend
    with locked(backend, "apply --refresh-only" if plan.refresh_only else "apply") as lock:
        state = read_state(workspace)
        state.owner = workspace.config.owner
        if saved:
            check_fresh(workspace, plan, state)
        elif (plan.made_against.lineage, plan.made_against.serial) != (state.lineage, state.serial):
            raise StalePlanError("the state changed while planning (another apply?); run the command again")
        if plan.refresh_only:
            return _record_refresh(backend, state, plan)
        notify = workspace.config.settings.notify
        if notify is not None:  # rolls are told to the webhooks (infra/notify.py)
            listener = Notifying(listener or QuietListener(), Announcer(notify, workspace.config.owner))
        return Executor(workspace.providers, backend, state, parallelism=parallelism, listener=listener,
                        lock=lock).run(plan)


def _record_refresh(backend, state: State, plan: Plan) -> ApplyResult:
    """A refresh-only plan's apply: one write of the state as found; no provider is called."""
    if plan.changes:
        refreshed(state, plan).next_version()
        backend.write(state)
    return ApplyResult(applied=[action.address for action in plan.changes])


def refuse_unadopted(plan: Plan) -> None:
    """An apply never makes a second fleet beside one infra made before owner tags: adopt it first."""
    blocking = [notice for notice in plan.notices if notice.blocking]
    if blocking:
        shown = ", ".join(f"{n.address} ({n.description})" for n in blocking[:3])
        more = f" and {len(blocking) - 3} more" if len(blocking) > 3 else ""
        raise InfraError(f"found {len(blocking)} resource(s) infra made before owner tags for groups this project "
                         f"names: {shown}{more}; if this repository made them, plan and apply with --adopt to tag "
                         f"them as its own; if another repository did, apply --adopt there first")


def drift(workspace: Workspace, groups: Iterable[str] = (), *, allow_empty: bool = False,
          warn: Callable[[str], object] = lambda line: None) -> DriftReport:
    """What changed since the last apply. Never passes by accident: where the backend holds no state
    at all (a wrong bucket or key, a state path that moved), there is nothing to compare, and a
    scheduled drift job must fail, not report "no drift", unless `allow_empty` (nothing applied yet)."""
    state, found, scope, _ = _as_recorded(workspace, Selection(groups))
    where = workspace.backend.description
    if not state.lineage:  # every state infra writes has one: none was ever written here
        if not allow_empty:
            raise StateError(f"no state at {where}: nothing was ever applied there, so there is nothing to "
                             f"compare; check __settings__.state in {workspace.config.path}, or pass --allow-empty "
                             f"in a repository where nothing was applied yet")
        return DriftReport(never_applied=where)
    report = detect_drift(state, found, scope=scope)
    for warning in Announcer(workspace.config.settings.notify, workspace.config.owner).drift(report):
        warn(warning)  # a webhook that was not told: a warning, never a failed drift check
    return report


def make_refresh_plan(workspace: Workspace, selection: Selection | None = None) -> Plan:
    """A refresh-only plan: what the state would record to match what exists (reconciler/refresh.py)."""
    state, found, scope, excluded = _as_recorded(workspace, selection or Selection())
    planned = refresh_plan(state, found, scope=scope, made_against=MadeAgainst(
        lineage=state.lineage, serial=state.serial, config_digest=workspace.config.digest))
    planned.excluded = sorted(excluded)
    return planned


def _as_recorded(workspace: Workspace, selection: Selection) -> tuple[State, dict, set[str] | None, set[str]]:
    """The state, what exists of what it records, the part of it `selection` is about, and what
    --exclude left out."""
    config = workspace.config
    for group in selection.groups:
        config.group(group)
    state = read_state(workspace)
    desired = desired_graph(config, workspace.root)
    # Looked for as recorded (its region, its attributes), not as nodes.json wants it now: drift is
    # about what was applied; an unapplied edit of nodes.json is what plan shows.
    observation = observe(workspace, Graph({}), state, selection, orphans=False)
    scope, excluded = scoped(selection, desired, state, {*state.resources, *desired.resources})
    return state, observation.found, scope, excluded & set(state.resources)


def targeted_plan(workspace: Workspace, selection: Selection, *, allowed: Iterable[ActionKind] | None = None,
                  forced: Iterable[str] = ()) -> tuple[Plan, Plan]:
    """The full plan of the selection, and the slice of it a targeted command applies: the allowed
    kinds of action (and the removal of leftovers, such as a killed build's instance).

    This is how the seed's `namespace:action` commands run: the same planner and executor as
    `infra apply`, on a slice of the graph."""
    full = make_plan(workspace, selection, forced=forced)
    kept = set(allowed) if allowed is not None else None
    sliced = full.model_copy(update={"actions": [a for a in full.actions if not a.action.is_change or kept is None
                                                  or a.action in kept or kind_of(a.kind).leftover]})
    return full, sliced


def create_resource(workspace: Workspace, resource: Resource, *, listener: Listener | None = None,
                    prepare: Callable[[], None] = lambda: None) -> ApplyResult:
    """Plan and apply one resource made on request, not from nodes.json (a one-off instance).

    It is planned with the desired graph around it, so references to what it is made from
    (the group's AMI) resolve; it is an error when it exists already. `prepare` runs once the
    plan is known to be possible, before anything is applied (instance:create imports its key).
    """
    config = workspace.config
    state = read_state(workspace)
    desired = desired_graph(config, workspace.root)
    upstream = [desired[a] for a in resource.depends_on if a in desired]
    observed = workspace.providers.observe([resource, *upstream]).found
    if resource.address in observed:
        raise InfraError(f"{resource.address} already exists; pick another name")
    the_plan = compute_plan(Graph(topological([*desired, resource])), observed, state, scope={resource.address},
                            made_against=MadeAgainst(lineage=state.lineage, serial=state.serial,
                                                     config_digest=config.digest))
    for action in the_plan.changes:
        missing = unresolved(action.after)
        if missing:
            raise InfraError(f"{action.address} needs {', '.join(m[2:-1] for m in missing)}, which does not exist "
                             f"yet; make it first (infra apply {action.group})")
    check_plan(workspace, the_plan)
    prepare()
    return apply_plan(workspace, the_plan, listener=listener)
