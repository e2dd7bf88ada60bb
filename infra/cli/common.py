"""What the command modules share: the workspace from global options, and apply progress lines."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.control import strip_control_codes
from rich.markup import escape

from infra.aws.access import AwsOptions
from infra.cli.app import err, options, out
from infra.errors import ApplyFailedError, InfraError, RollPaused
from infra.reconciler.executor import ApplyResult
from infra.reconciler.plan import Action
from infra.redact import mask_url_passwords
from infra.workspace import Workspace


def workspace() -> Workspace:
    return Workspace(Path(options.config), AwsOptions(region=options.region, profile=options.profile,
                                                      endpoint_url=options.endpoint_url,
                                                      max_request_rate=options.max_request_rate),
                     environment=options.env)


def note_project(ws: Workspace) -> None:
    """Say, on stderr, which project owns what infra makes here when nodes.json does not name it."""
    project = ws.config.project
    if not project.explicit:
        err.print(f"project {project.name} (from {project.source}); name it in nodes.json to pin it: "
                  f"\"__settings__\": {{\"project\": \"{project.name}\"}}", style="dim", markup=False,
                  highlight=False)


ROLL_DONE = {"promote": "promoted", "abort": "aborted"}  # a paused roll's move, once done


class ConsoleListener:
    """Apply progress on stdout: one line when an action starts and one when it ends; failures on stderr.

    Without colour (not a terminal, or NO_COLOR) a line is written as it is: rich parsing markup,
    and taking its lock, line by line cost the apply's scheduling thread half its time (a line per
    action started and ended, and packer's progress, from 50 threads at once). The lines the
    scheduling thread says in a turn (started, finished, failed, skipped, paused) are shown together
    when it ends the turn (`flush`); an action's progress, from its own thread, is shown at once,
    after whatever was said before it."""

    def started(self, action: Action) -> None:
        doing = action.roll_command or action.action.name.lower()  # a paused roll's promote or abort
        _say(out, f"{action.address}: {doing}...", lambda: f"[dim]{escape(action.address)}: {doing}...[/]",
             held=True)

    def progress(self, action: Action, message: str) -> None:  # packer's output may name an endpoint URL
        shown = mask_url_passwords(message)
        _say(out, f"{action.address}: {shown}", lambda: f"[dim]{escape(action.address)}: {escape(shown)}[/]")

    def finished(self, action: Action, seconds: float) -> None:
        verb = ROLL_DONE.get(action.roll_command) or action.action.verb.split(" (")[0]
        _say(out, f"{action.address}: {verb} ({seconds:.1f}s)",
             lambda: f"[green]{escape(action.address)}: {verb}[/] [dim]({seconds:.1f}s)[/]", held=True)

    def failed(self, action: Action, error: str, seconds: float) -> None:
        shown = mask_url_passwords(error)
        _say(err, f"{action.address}: failed after {seconds:.1f}s: {shown}",
             lambda: f"[red]{escape(action.address)}: failed after {seconds:.1f}s: {escape(shown)}[/]", held=True)

    def skipped(self, action: Action, because: str) -> None:
        _say(err, f"{action.address}: skipped: {because}",
             lambda: f"[yellow]{escape(action.address)}: skipped: {escape(because)}[/]", held=True)

    def paused(self, action: Action, where: str) -> None:  # the whole line closes the apply (report_result)
        _say(out, f"{action.address}: paused", lambda: f"[yellow]{escape(action.address)}: paused[/]", held=True)

    def flush(self) -> None:
        out.file.flush()
        err.file.flush()


_saying = threading.Lock()


def _say(console: Console, plain: str, markup: Callable[[], str], *, held: bool = False) -> None:
    """One line: with rich's markup in colour, else as it is (the same text rich would print: control
    codes left out), whole and at once. The markup is made only for colour (escaping is most of it).
    A line `held` is written to the console's file but shown (flushed) with the next line that is
    not, or by ConsoleListener.flush. The file is flushed outside the lock (it has its own): a
    thread that flushed under it made the others wait for its system call and for the interpreter."""
    if console.color_system is not None:
        console.print(markup())
        return
    with _saying:
        console.file.write(strip_control_codes(plain) + "\n")
    if not held:
        console.file.flush()


def report_result(result: ApplyResult) -> None:
    """Close an apply with one summary line; raise (exit 1) naming what failed; exit 4 when a roll
    stopped at a manual pause, as asked, with one line saying where it stands and what to run next."""
    if result.paused and not result.failed:
        for address, line in result.paused.items():
            out.print(f"[bold yellow]Paused: {escape(address)}: {escape(line)}[/]")
        raise typer.Exit(RollPaused.exit_code)
    if result.failed or result.skipped:
        failed = ", ".join(result.failed) or "none"
        raise ApplyFailedError(f"apply incomplete: {len(result.applied)} done, failed: {failed}"
                               + (f", skipped: {len(result.skipped)}" if result.skipped else "")
                               + "; fix the cause and run the same command again to resume")
    out.print(f"[bold green]Apply complete: {len(result.applied)} action(s) done.[/]")


@contextmanager
def busy(message: str) -> Iterator[None]:
    """A spinner on stderr while infra reads config and observes AWS; nothing when not a terminal."""
    if err.is_terminal:
        with err.status(message):
            yield
    else:
        yield


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def confirmed(command: str, auto_approve: bool) -> bool:
    """Whether to go on with the changes just shown: yes with --auto-approve, else as the user answers
    on a terminal; without a terminal to ask on, a one-line error (never a silent yes)."""
    if auto_approve:
        return True
    if not stdin_is_terminal():
        raise InfraError(f"{command} needs confirmation: run it on a terminal, or pass --auto-approve")
    if typer.confirm(f"{command.capitalize()}: make these changes?" if command != "apply"
                     else "Apply these changes?", default=False):
        return True
    out.print(f"{command.capitalize()} cancelled; nothing was changed.")
    return False

