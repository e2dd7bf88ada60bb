"""`infra rollout status|promote|abort`: a roll paused at a manual step (logic: operations/rollout.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.markup import escape

from infra.cli.app import Output, app, out
from infra.cli.common import ConsoleListener, report_result, workspace
from infra.operations import rollout

rollout_app = typer.Typer(help="A roll paused at a manual step: where it stands, go on, go back.",
                          no_args_is_help=True)
app.add_typer(rollout_app, name="rollout")


@rollout_app.command("status")
def status(
    groups: list[str] | None = typer.Argument(None, help="Groups (every group with an ASG when none is given)."),
    output: Output = typer.Option(Output.text, "--output", "-o", help="Output format."),
) -> None:
    """Where each group's roll stands: paused (at which step, since when), held back by a rollback, or
    none. A paused roll whose alarms are in ALARM is aborted here. Exit 0; 4 while a roll is paused; 1 when
    an alarm aborted one."""
    found = rollout.status(workspace(), groups or [], listener=ConsoleListener())
    if output is Output.json:
        print(json.dumps([asdict(item) for item in found], indent=2))
    else:
        for item in found:
            style = {"paused": "yellow", "held": "yellow", "aborted": "red"}.get(item.state, "")
            out.print(f"[{style}]{escape(item.line)}[/]" if style else escape(item.line))
    if any(item.state == "aborted" for item in found):
        raise typer.Exit(1)
    if any(item.state == "paused" for item in found):
        raise typer.Exit(4)


@rollout_app.command("promote")
def promote(group: str = typer.Argument(..., help="The group whose paused roll goes on.")) -> None:
    """Go on with GROUP's paused roll (from any machine with the same state): the alarms and the new
    instances are checked, then the steps after the pause, then the new ASG takes over. Ctrl-C or
    SIGTERM pauses the roll again after the last step done (not rolled back): promote again goes on."""
    report_result(rollout.promote(workspace(), group, listener=ConsoleListener()))


@rollout_app.command("abort")
def abort(group: str = typer.Argument(..., help="The group whose paused roll is undone.")) -> None:
    """Undo GROUP's paused roll: the new ASG goes, the old one (still serving at full size) stays,
    held at its version until nodes.json changes what the group runs."""
    report_result(rollout.abort(workspace(), group, listener=ConsoleListener()))
