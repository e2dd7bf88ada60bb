"""The seed's `namespace:action [GROUP]` commands, each a targeted apply of the same engine."""

from __future__ import annotations

from collections.abc import Iterable

import typer
from rich.markup import escape

from infra import engine
from infra.cli.app import app, out
from infra.cli.common import ConsoleListener, confirmed, report_result, workspace
from infra.errors import InfraError
from infra.reconciler import render
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Plan

GROUPS = typer.Argument(None, help="Groups (every group when none is given).")
# In an environment that promotes, packer:run promotes: it copies the AMIs its predecessor built.
CREATE_OR_UPDATE = {ActionKind.CREATE, ActionKind.UPDATE, ActionKind.BUILD, ActionKind.PROMOTE}


def _run(groups: Iterable[str] | None, kinds: set[str], allowed: set[ActionKind] | None, *,
         forced_kind: str | None = None, with_dependencies: bool = True, autoscaling_only: bool = False,
         parallelism: int = 10, hint: str = "", allow_destroy: bool = False, ask: str = "",
         auto_approve: bool = False) -> Plan:
    """Plan the groups' `kinds`, apply the `allowed` actions of it; with `ask` (the command's name),
    show them and ask first, as apply does (a roll replaces running nodes)."""
    ws = workspace()
    groups = list(groups or ())
    if autoscaling_only:
        groups = _autoscaling_groups(ws, groups)
        if not groups:
            out.print("No group has an autoscale block; nothing to do.")
            return Plan()
    selection = engine.Selection(groups, kinds, with_dependencies=with_dependencies)
    forced = [f"{forced_kind}.{g}" for g in groups] if forced_kind else []
    full, applied = engine.targeted_plan(ws, selection, allowed=allowed, forced=forced)
    held_back = [a for a in full.changes if a not in applied.changes]
    for action in held_back:
        out.print(f"[yellow]{escape(action.address)}: left as it is: {escape(action.reason)}"
                  f"{'; ' + hint if hint else ''}[/]")
    if not applied.changes:
        out.print("Nothing else to do." if held_back else "Nothing to do: everything asked for is up to date.")
        return full
    if ask:
        out.print(render.plan_text(applied))
        if not confirmed(ask, auto_approve):
            return full
    report_result(engine.apply_plan(ws, applied, parallelism=parallelism, listener=ConsoleListener(),
                                    allow_destroy=allow_destroy))
    return full


def _autoscaling_groups(ws, groups: list[str]) -> list[str]:
    chosen = ws.config.select(groups)
    without = [g.name for g in chosen if g.autoscale is None]
    if groups and without:
        raise InfraError(f"group {without[0]!r} has no autoscale block in {ws.config.path}; add one, e.g. "
                         f"\"autoscale\": {{\"node_min\": 2, \"node_max\": 2}}")
    return [g.name for g in chosen if g.autoscale is not None]


@app.command("role:create")
def role_create(groups: list[str] | None = GROUPS) -> None:
    """Write roles/role-GROUP.json for groups that have none yet."""
    _run(groups, {"role"}, {ActionKind.CREATE}, hint="role:update changes existing roles")


@app.command("role:update")
def role_update(groups: list[str] | None = GROUPS) -> None:
    """Write roles/role-GROUP.json, creating or updating it to match nodes.json."""
    _run(groups, {"role"}, {ActionKind.CREATE, ActionKind.UPDATE})


app.command("roles:create", help="Same as role:create.")(role_create)
app.command("roles:update", help="Same as role:update.")(role_update)


@app.command("packer:create")
def packer_create(groups: list[str] | None = GROUPS) -> None:
    """Write packer/GROUP.json, the Packer template of each group."""
    _run(groups, {"packer_template"}, {ActionKind.CREATE, ActionKind.UPDATE})


@app.command("packer:run")
def packer_run(groups: list[str] | None = GROUPS,
               parallelism: int = typer.Option(10, "--parallelism", min=1, help="Builds at once.")) -> None:
    """Build each group's AMI with packer when what it is built from changed (role and template too)."""
    _run(groups, {"role", "packer_template", "ami", "build_leftover"}, CREATE_OR_UPDATE, parallelism=parallelism)


@app.command("autoscale:create")
def autoscale_create(groups: list[str] | None = GROUPS) -> None:
    """Write dna/asg/GROUP.json and the group's role."""
    _run(groups, {"dna", "role"}, {ActionKind.CREATE, ActionKind.UPDATE}, autoscaling_only=True)


@app.command("autoscale:run")
def autoscale_run(groups: list[str] | None = GROUPS) -> None:
    """Create the autoscaling group (and its launch template); an error if it exists."""
    ws = workspace()
    names = _autoscaling_groups(ws, list(groups or ()))
    existing = engine.make_plan(ws, engine.Selection(names, {"asg"}, with_dependencies=False))
    present = [a.address for a in existing.actions if a.kind == "asg" and a.action is not ActionKind.CREATE
               and a.after is not None]
    if present:
        raise InfraError(f"{', '.join(present)} already exists; use autoscale:update to roll it")
    _run(names, {"launch_template", "asg"}, {ActionKind.CREATE, ActionKind.UPDATE}, autoscaling_only=True,
         with_dependencies=False)


@app.command("autoscale:update")
def autoscale_update(groups: list[str] | None = GROUPS,
                     allow_destroy: bool = typer.Option(False, "--allow-destroy",
                                                        help="Allow rolling groups marked protect."),
                     auto_approve: bool = typer.Option(False, "--auto-approve", help="Roll without asking.")) -> None:
    """Roll the autoscaling group blue/green: new ASG, wait until healthy, remove the old one. Shows
    the roll and asks first, as apply does (on a terminal; elsewhere it needs --auto-approve)."""
    _run(groups, {"launch_template", "asg"}, {ActionKind.CREATE, ActionKind.UPDATE, ActionKind.REPLACE},
         forced_kind="asg", autoscaling_only=True, with_dependencies=False, allow_destroy=allow_destroy,
         ask="autoscale:update", auto_approve=auto_approve)
