"""The usage report: what each group's nodes cost and how busy they are."""

from __future__ import annotations

import typer

from infra.cli.app import ReportOutput, app
from infra.cli.common import busy, workspace
from infra.cli.engine_commands import print_report
from infra.operations.usage import DEFAULT_DAYS, usage_report


@app.command()
def usage(
    groups: list[str] | None = typer.Argument(None, help="Only these groups (every group with nodes when none)."),
    days: int = typer.Option(DEFAULT_DAYS, "--days", help="The window: this many days up to now (1 to 63)."),
    output: ReportOutput = typer.Option(ReportOutput.text, "--output", "-o", help="Output format."),
) -> None:
    """What each group's nodes cost and how busy their CPU is: idle, saturated or fine, and what to do.
    Exit 0 when none is idle or saturated, 2 when some are (see docs/scaling.md)."""
    with busy("Reading what runs, and its CPU from CloudWatch..."):
        report = usage_report(workspace(), groups or (), days)
    print_report("usage", report, output)
    if report.findings:
        raise typer.Exit(2)
