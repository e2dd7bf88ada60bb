"""What the command modules share: the workspace from global options, and apply progress lines."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rich.markup import escape

from infra.cli.app import err, options, out
from infra.errors import ApplyFailedError
from infra.reconciler.executor import ApplyResult
from infra.reconciler.plan import Action
from infra.redact import mask_url_passwords
from infra.workspace import AwsOptions, Workspace


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


class ConsoleListener:
    """Apply progress on stderr-free stdout: one line when an action starts and one when it ends."""

    def started(self, action: Action) -> None:
        out.print(f"[dim]{escape(action.address)}: {action.action.name.lower()}...[/]")

    def progress(self, action: Action, message: str) -> None:  # packer's output may name an endpoint URL
        out.print(f"[dim]{escape(action.address)}: {escape(mask_url_passwords(message))}[/]")

    def finished(self, action: Action, seconds: float) -> None:
        out.print(f"[green]{escape(action.address)}: {action.action.verb.split(' (')[0]}[/] [dim]({seconds:.1f}s)[/]")

    def failed(self, action: Action, error: str, seconds: float) -> None:
        err.print(f"[red]{escape(action.address)}: failed after {seconds:.1f}s: {escape(mask_url_passwords(error))}[/]")

    def skipped(self, action: Action, because: str) -> None:
        err.print(f"[yellow]{escape(action.address)}: skipped: {escape(because)}[/]")


def report_result(result: ApplyResult) -> None:
    """Close an apply with one summary line; raise (exit 1) naming what failed."""
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
