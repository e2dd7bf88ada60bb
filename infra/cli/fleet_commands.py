"""Fleet commands: one-off instances (instance:create), deploys (instance:deploy), rollbacks (rollback)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape

from infra import engine
from infra.cli.app import Output, app, out
from infra.cli.common import ConsoleListener, confirmed, report_result, workspace
from infra.errors import ProviderError
from infra.operations import fleet
from infra.operations.rollback import rollback_plan
from infra.reconciler import render


def _say(message: str) -> None:
    out.print(f"[dim]{escape(message)}[/]")


@app.command("instance:create")
def instance_create(
    group: str | None = typer.Argument(None, help="The group the instance belongs to."),
    key: Path | None = typer.Option(None, "--key", help="Private key file; the key pair is named after it (no "
                                                           "extension) and imported from it when AWS lacks it."),
    name: str | None = typer.Option(None, "--name", help="The instance's name (its Name tag and state address)."),
    zone: str | None = typer.Option(None, "--zone", help="Availability zone (random when not given)."),
) -> None:
    """Launch a one-off instance of GROUP and write dna/GROUP-INSTANCE_ID.json."""
    ws = workspace()
    result = fleet.create_instance(ws, group, key, name, zone, listener=ConsoleListener(), progress=_say)
    report_result(result)
    assert group is not None and name is not None  # create_instance refused them missing
    recorded = ws.backend.read().resources.get(f"instance.{group}.{name}")
    if recorded is not None:
        outputs = recorded.outputs
        out.print(f"instance.{escape(group)}.{escape(name)}: {outputs.get('id')} in {outputs.get('zone')}; "
                  f"dna file {outputs.get('dna')}")


@app.command("instance:deploy")
def instance_deploy(
    groups: list[str] | None = typer.Argument(None, help="Groups (every group when none is given)."),
    batch: int = typer.Option(1, "-n", "--batch", help="Nodes provisioned at once."),
    max_errors: str = typer.Option("0", "--max-errors",
                                   help="Failed nodes (or a percentage) after which SSM stops; 0 stops at the first."),
    timeout: int = typer.Option(3600, "--timeout", help="Seconds to wait for the deploy to finish."),
    output: Output = typer.Option(Output.text, "--output", "-o", help="Output format."),
) -> None:
    """Re-run chef-solo on the groups' running nodes through SSM Run Command, BATCH at a time."""
    reports = fleet.deploy(workspace(), groups or [], batch, max_errors=max_errors, deadline=timeout,
                           progress=_say if output is Output.text else (lambda message: None))
    if output is Output.json:
        print(json.dumps([{**asdict(r), "ok": r.ok} for r in reports], indent=2))
    else:
        for report in reports:
            _print_region(report)
    failed = [r for r in reports if not r.ok]
    if failed:
        raise ProviderError("deploy failed in " + ", ".join(f"{r.region} (command {r.command_id}: {r.status}, "
                                                             f"{r.errors} node(s) failed)" for r in failed))


def _print_region(report) -> None:
    if not report.command_id:
        out.print(f"{report.region}: {escape(', '.join(report.groups))}: no running nodes; nothing deployed.")
        return
    for node in report.nodes or []:
        style = "green" if node.status == "Success" else "red"
        code = f" (exit {node.response_code})" if node.response_code not in (None, 0) else ""
        out.print(f"[{style}]{node.instance_id}[/] {escape(node.group)}: {escape(node.status)}{code}")
        if node.output and node.status != "Success":
            out.print(escape(node.output), style="dim")
    if report.note:
        out.print(f"[dim]{escape(report.note)}[/]")
    style = "bold green" if report.ok else "bold red"
    out.print(f"[{style}]{report.region}: deploy {escape(report.status)}: {report.completed}/{report.targets} "
              f"node(s) done, {report.errors} failed (command {report.command_id}).[/]")


@app.command("rollback")
def rollback(
    group: str = typer.Argument(..., help="The group whose autoscaling group goes back."),
    allow_destroy: bool = typer.Option(False, "--allow-destroy", help="Also for a group marked protect."),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Roll back without asking."),
) -> None:
    """Roll GROUP back to the AMI and launch template version it ran before its last roll, through
    the same gated roll (canary, bake, alarms, target groups); it stays there until nodes.json changes.
    Asks first, as apply does (on a terminal; elsewhere it needs --auto-approve)."""
    ws = workspace()
    plan = rollback_plan(ws, group)
    out.print(render.plan_text(plan))
    if not confirmed("rollback", auto_approve):
        return
    report_result(engine.apply_plan(ws, plan, listener=ConsoleListener(), allow_destroy=allow_destroy))
