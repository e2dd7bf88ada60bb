"""`infra import`: adopt a resource made without infra into a group (infra/operations/adoption.py)."""

from __future__ import annotations

import typer

from infra.cli.app import app, out
from infra.cli.common import ConsoleListener, busy, note_project, report_result, workspace
from infra.errors import InfraError
from infra.operations import adoption
from infra.reconciler import render


@app.command("import")
def import_(
    group: str = typer.Argument(..., help="The group in nodes.json it becomes part of."),
    asg: str | None = typer.Option(None, "--asg", metavar="NAME", help="An autoscaling group, by its name."),
    launch_template: str | None = typer.Option(None, "--launch-template", metavar="ID",
                                                  help="A launch template, by its id (lt-...) or name; it keeps "
                                                       "its name."),
    ami: str | None = typer.Option(None, "--ami", metavar="ID", help="An AMI of this account (ami-...)."),
    instance: str | None = typer.Option(None, "--instance", metavar="ID",
                                           help="An instance (i-...), as a one-off instance of the group."),
    name: str | None = typer.Option(None, "--name",
                                       help="With --instance: its name in infra (instance.GROUP.NAME) [default: "
                                            "its id]."),
) -> None:
    """Adopt one resource made without infra into GROUP: tag it as infra tags its own and record it; nothing
    else changes. The next plan shows how it differs from nodes.json."""
    chosen = {kind: ident for kind, ident in (("asg", asg), ("launch_template", launch_template), ("ami", ami),
                                              ("instance", instance)) if ident}
    if len(chosen) != 1:
        raise InfraError("infra import GROUP takes one of --asg NAME, --launch-template ID, --ami ID, --instance ID")
    [(kind, ident)] = chosen.items()
    ws = workspace()
    with busy("Finding it..."):
        plan = adoption.plan_import(ws, group, kind, ident, name=name)
    out.print(render.plan_text(plan))
    note_project(ws)
    report_result(adoption.import_resource(ws, plan, listener=ConsoleListener()))
    out.print(f"Imported {plan.actions[0].address}; infra plan shows how it differs from nodes.json.")
