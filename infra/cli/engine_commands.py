"""The declarative commands: plan, apply, drift, graph."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import typer
from rich.markup import escape

from infra import engine
from infra.cli.app import ReportOutput, app, collector_paused, err, out
from infra.cli.common import ConsoleListener, busy, confirmed, note_project, report_result, workspace
from infra.errors import InfraError
from infra.reconciler import graph_render, render
from infra.usage import render as usage_render

EXCLUDE_HELP = ("Leave out this group or address (ami.web), and what depends on it; repeat for more. The plan "
                "says what was left out.")
REFRESH_HELP = ("Only record what exists now in the state (accept changes made by hand); change nothing else. "
                "Shown as a plan of state changes.")
ADOPT_HELP = ("Adopt what infra made before owner tags, of the groups nodes.json or the state names: tag it as this "
              "project's (see docs/state.md, Ownership).")

RENDERERS: dict[str, dict[ReportOutput, Callable[..., str | Iterable[str]]]] = {
    "plan": {ReportOutput.text: render.plan_text_lines, ReportOutput.json: render.plan_json_lines,
             ReportOutput.markdown: render.plan_markdown_lines},
    "drift": {ReportOutput.text: render.drift_text, ReportOutput.json: render.drift_json,
              ReportOutput.markdown: render.drift_markdown},
    "usage": {ReportOutput.text: usage_render.usage_text, ReportOutput.json: usage_render.usage_json,
              ReportOutput.markdown: usage_render.usage_markdown},
}


def print_report(what: str, report: object, output: ReportOutput) -> None:
    """Text goes through rich (colour on a terminal); JSON and Markdown are printed as they are.

    Without colour (not a terminal: a file, a pipe, CI) rich would print the plain text anyway,
    after splitting it into a styled object per line: a second or more for a thousand groups."""
    if output is ReportOutput.text and out.color_system is None:
        _write(RENDERERS[what][output](report, color=False))
    elif output is ReportOutput.text:
        shown = RENDERERS[what][output](report)
        out.print(shown if isinstance(shown, str) else "\n".join(shown))
    else:
        _write(RENDERERS[what][output](report))


def _write(report: str | Iterable[str], piece: int = 1 << 20, lines: int = 4096) -> None:
    """`print(report)`, never whole: a string a megabyte at a time, lines (joined by newlines) some
    thousands at a time. A report of 10,000 groups is tens of megabytes and hundreds of thousands
    of lines: joined whole, or encoded whole, it was one more copy of itself at once. Flushed, as
    rich prints: what follows on stderr (an error, a warning) comes after it in a log of both."""
    if isinstance(report, str):
        for start in range(0, len(report), piece):
            sys.stdout.write(report[start:start + piece])
    else:
        some: list[str] = []
        between = ""
        for line in report:
            some.append(line)
            if len(some) == lines:
                sys.stdout.write(between + "\n".join(some))
                between = "\n"
                some.clear()
        if some:
            sys.stdout.write(between + "\n".join(some))
    sys.stdout.write("\n")
    sys.stdout.flush()


@app.command()
def plan(
    groups: list[str] | None = typer.Argument(None, help="Only these groups (and what they depend on)."),
    out_file: Path | None = typer.Option(None, "--out", help="Save the plan to apply it later."),
    detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode",
                                           help="Exit 0 when there are no changes, 2 when there are (or the plan "
                                                "holds a group back from nodes.json: a rollback, a paused roll)."),
    output: ReportOutput = typer.Option(ReportOutput.text, "--output", "-o", help="Output format."),
    adopt: bool = typer.Option(False, "--adopt", help=ADOPT_HELP),
    exclude: list[str] | None = typer.Option(None, "--exclude", metavar="GROUP|ADDRESS", help=EXCLUDE_HELP),
    refresh_only: bool = typer.Option(False, "--refresh-only", help=REFRESH_HELP),
) -> None:
    """Show what apply would change to make the world match nodes.json."""
    if out_file is not None and out_file.is_dir():  # say so before planning, not after
        raise InfraError(f"--out {out_file}: is a directory; give the file to save the plan in")
    if out_file is not None and not out_file.absolute().parent.is_dir():  # a typo must not make folders
        raise InfraError(f"--out {out_file}: the directory {out_file.parent} does not exist; make it first, or save "
                         f"the plan elsewhere")
    ws = workspace()
    with collector_paused():
        with busy("Planning: reading nodes.json and observing what exists..."):
            result = engine.make_plan(ws, engine.Selection(groups or (), exclude=exclude or ()), adopt=adopt,
                                      refresh_only=refresh_only)
        print_report("plan", result, output)
    note_project(ws)
    if out_file is not None:
        engine.save_plan(result, out_file)
        if output is ReportOutput.text:
            out.print(f"Saved the plan to {out_file}; apply it with: infra apply {out_file}")
    if detailed_exitcode and (result.changes or result.held):
        raise typer.Exit(2)


@app.command()
def apply(
    targets: list[str] | None = typer.Argument(None, help="A saved plan file, or groups to apply."),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Apply without asking."),
    parallelism: int = typer.Option(10, "--parallelism", min=1, help="Actions at once."),
    allow_destroy: bool = typer.Option(False, "--allow-destroy", help="Allow destroying protected resources."),
    adopt: bool = typer.Option(False, "--adopt", help=ADOPT_HELP),
    exclude: list[str] | None = typer.Option(None, "--exclude", metavar="GROUP|ADDRESS", help=EXCLUDE_HELP),
    refresh_only: bool = typer.Option(False, "--refresh-only", help=REFRESH_HELP),
) -> None:
    """Make the world match nodes.json (or apply a saved plan)."""
    ws = workspace()
    targets = targets or []
    saved = len(targets) == 1 and _names_a_file(targets[0])
    if saved:
        for given, option in ((adopt, "--adopt"), (exclude, "--exclude"), (refresh_only, "--refresh-only")):
            if given:
                raise InfraError(f"{option} is for planning: a saved plan applies what it was planned with "
                                 f"(infra plan {option} ... --out FILE)")
        the_plan = engine.load_plan(Path(targets[0]))
    else:
        with collector_paused(), busy("Planning: reading nodes.json and observing what exists..."):
            the_plan = engine.make_plan(ws, engine.Selection(targets, exclude=exclude or ()), adopt=adopt,
                                        refresh_only=refresh_only)
        print_report("plan", the_plan, ReportOutput.text)
        engine.refuse_unadopted(the_plan)
        note_project(ws)
        if the_plan.changes and not confirmed("apply", auto_approve):
            return
    # Even with no changes, apply records what already matches (adopting it into state).
    result = engine.apply_plan(ws, the_plan, parallelism=parallelism, listener=ConsoleListener(), saved=saved,
                               allow_destroy=allow_destroy)
    if the_plan.refresh_only:
        out.print(f"[bold green]Refresh complete: the state records what exists now ({len(result.applied)} "
                  f"resource(s) refreshed); nothing else was changed.[/]")
    elif the_plan.changes:
        report_result(result)


def _names_a_file(target: str) -> bool:
    """Whether apply's one argument is a saved plan: a file there, or a path (a group name holds no
    '/' or '.'), which load_plan then reports missing, instead of "unknown group"."""
    return Path(target).exists() or "/" in target or "." in target


@app.command()
def drift(
    groups: list[str] | None = typer.Argument(None, help="Only these groups."),
    output: ReportOutput = typer.Option(ReportOutput.text, "--output", "-o", help="Output format."),
    allow_empty: bool = typer.Option(False, "--allow-empty",
                                     help="No state where the backend points is no drift (a repository where "
                                          "nothing was applied yet), not an error."),
) -> None:
    """Compare what infra last applied with what exists now. Exit 0 none, 2 drift found, 1 when no
    state is found where the backend points (nothing was ever applied there) or on an error."""
    with busy("Observing what exists..."):
        report = engine.drift(workspace(), groups or (), allow_empty=allow_empty,
                              warn=lambda line: err.print(f"warning: {escape(line)}", style="yellow"))
    print_report("drift", report, output)
    if report.has_drift:
        raise typer.Exit(2)


@app.command()
def graph(
    groups: list[str] | None = typer.Argument(None, help="Only these groups (and what they depend on)."),
    fmt: str = typer.Option("dot", "--format", "-f", help="dot or mermaid."),
    plan_file: Path | None = typer.Option(None, "--plan", help="Draw this saved plan (infra plan --out) instead."),
    desired: bool = typer.Option(False, "--desired", help="Draw what nodes.json wants, observing nothing (no cloud, "
                                                          "no state): every resource and its dependencies."),
) -> None:
    """Draw the plan's actions and what waits for what (Graphviz DOT or Mermaid), each marked with its
    action (+ ~ +/- - *); `dot -Tsvg` draws the DOT."""
    if fmt not in ("dot", "mermaid"):
        raise InfraError(f"unknown --format {fmt!r}; use dot or mermaid")
    if plan_file is not None and (desired or groups):
        raise InfraError("--plan draws a saved plan as it is: leave out --desired and the groups")
    if plan_file is not None:
        drawing = graph_render.of_plan(engine.load_plan(plan_file))
    elif desired:
        ws = workspace()
        drawing = graph_render.of_desired(engine.desired_of(ws, groups or ()))
    else:
        ws = workspace()
        with busy("Planning: reading nodes.json and observing what exists..."):
            drawing = graph_render.of_plan(engine.make_plan(ws, engine.Selection(groups or ())))
    print(graph_render.dot(drawing) if fmt == "dot" else graph_render.mermaid(drawing))
