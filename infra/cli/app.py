"""The typer app, its global options, and the one place errors become a one-line message."""

from __future__ import annotations

import ctypes
import errno
import gc
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from infra import __version__, stopping
from infra.cli.global_options import accept_after_commands
from infra.cli.usage_errors import help_without_a_command, named_after_their_command
from infra.cli.value_names import name_values
from infra.errors import InfraError, Terminated
from infra.redact import mask_url_passwords

app = typer.Typer(
    name="infra",
    help="Run a fleet of EC2 node groups from one nodes.json, the way Terraform runs infrastructure.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion and --show-completion, for bash, zsh and fish
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

out = Console(soft_wrap=True, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


class Output(str, Enum):
    text = "text"
    json = "json"


class ReportOutput(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@dataclass
class Options:
    """Options every command shares, set by the app callback; given after the command too, set again
    from there (infra/cli/global_options.py)."""

    config: str = "nodes.json"
    env: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    max_request_rate: float | None = None
    debug: bool = False

    def set(self, name: str, value: Any) -> None:
        """Set one option as the command line gave it; `--env ""` is no environment."""
        setattr(self, name, (value or None) if name == "env" else value)


options = Options()


def _print_version(value: bool) -> None:
    if value:
        out.print(f"infra {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _global_options(
    config: str = typer.Option("nodes.json", "--config", "-c", envvar="INFRA_CONFIG",
                               help="Path of nodes.json."),
    env: str | None = typer.Option(None, "--env", envvar="INFRA_ENV",
                                      help="The environment of nodes.json's __environments__ to work on."),
    region: str | None = typer.Option(None, "--region",
                                         help="Use this AWS region for every group instead of each group's own."),
    profile: str | None = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", envvar="AWS_ENDPOINT_URL",
                                               help="Any AWS-compatible endpoint (the sandbox prints one)."),
    max_request_rate: float | None = typer.Option(
        None, "--max-request-rate", envvar="INFRA_MAX_REQUEST_RATE", metavar="N",
        help="At most N AWS requests per second, across all threads (for accounts that share API limits); "
             "overrides __settings__.max_request_rate."),
    debug: bool = typer.Option(False, "--debug", envvar="INFRA_DEBUG", help="Show tracebacks."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print infra's version and exit."),
) -> None:
    for name, value in (("config", config), ("env", env), ("region", region), ("profile", profile),
                        ("endpoint_url", endpoint_url), ("max_request_rate", max_request_rate), ("debug", debug)):
        options.set(name, value)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line and leave with `code`."""
    _print_error(message)
    return typer.Exit(code)


def command() -> Any:
    """The command line as typer builds it from `app`, its help naming values rather than types, its
    global options taken after any command too, its usage errors naming the command they were typed to,
    its groups showing their help when given no command."""
    typed = named_after_their_command(name_values(typer.main.get_command(app)))
    return accept_after_commands(help_without_a_command(typed), options)


# A command builds millions of small objects that live until it ends (the config, the graph, the
# plan) and makes few reference cycles. With Python's thresholds (700, 10, 10) the collector scans
# them over and over: 1,500 collections, 9 of them full, 1.4 s of the CPU of a 10,000-group plan.
# Collecting the young every 100,000 allocations, the older rarely, a plan runs one or two.
COLLECT_EVERY = (100_000, 50, 10)


# glibc gives threads that allocate at once arenas of their own (up to eight per core), and each
# keeps what was freed in it: the threads that read AWS's answers in a plan (the early ASG scan, a
# pool per kind) held 12 to 16 MB of a warm 10,000-group plan's peak so. Under the GIL, threads
# seldom allocate at the same moment: two arenas are enough.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)


def fewer_malloc_arenas(most: int = MALLOC_ARENAS) -> None:
    """At most `most` malloc arenas from now on, where the C library is glibc (elsewhere: nothing)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to set
        return
    mallopt(_M_ARENA_MAX, most)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a plan is made and shown: the young collections alone
    were 0.6 s of a warm 10,000-group plan, and what a plan makes it keeps until the command ends
    (its peak memory is the same with the collector off). Applies keep it on: they run long.

    On the command line, what was made meanwhile is frozen before the collector is back
    (`gc.freeze`): the first collection would otherwise walk every object of the plan, all of them
    young and alive (0.45 s at 10,000 groups), and the process ends with the command. A process
    that goes on (the tests) freezes nothing: frozen objects given back later reach the oldest
    generation without counting towards its next collection, and the suite's garbage grew to 9 GB."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _command_line:
                gc.freeze()
            gc.enable()


_command_line = False  # the command runs as the process's own (`main()`), which ends with it


def _debugging() -> bool:
    """--debug (before or after the command) or INFRA_DEBUG: errors end in their traceback."""
    return options.debug or os.environ.get("INFRA_DEBUG") not in (None, "", "0")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app; every error ends as one line on stderr, exit 1."""
    options.debug = False  # as the command line sets it, once parsed (`--exec --debug` is a value, not the option)
    global _command_line
    _command_line = argv is None  # `main([...])`: a caller that goes on (the tests)
    stopping.reset()
    previous = signal.signal(signal.SIGTERM, _terminate)
    previous_int = signal.signal(signal.SIGINT, _interrupt) if _in_main_thread() else None
    collecting = gc.get_threshold()
    gc.set_threshold(*COLLECT_EVERY)
    fewer_malloc_arenas()
    _terminated.clear()
    try:
        code = command().main(args=argv, standalone_mode=False, prog_name="infra")
        if code == 130:  # typer turns an interrupt into exit code 130 without a word: say which it was
            raise Terminated() if _terminated else KeyboardInterrupt()
    except InfraError as exc:
        if _debugging():
            raise
        _print_error(str(exc))
        code = getattr(exc, "exit_code", 1)
    except BrokenPipeError:  # `infra plan | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141
    except OSError as exc:  # the file system said no: which file, and why
        if _debugging():
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        hint = ("free some space and run the command again (files are written whole or not at all)"
                if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the path and its permissions")
        _print_error(f"{where}{exc.strerror or exc}; {hint}")
        code = 1
    except typer.Abort:
        _print_error("aborted")
        code = 130
    except Terminated:
        _print_error("terminated; what finished is recorded in state, the lock is released")
        code = 143
    except KeyboardInterrupt:
        _print_error("interrupted; what finished is recorded in state, the lock is released")
        code = 130
    except typer.TyperException as exc:  # usage errors (typer's own click): bad option, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # `infra`, `infra state`: the help, as asked
            context = getattr(exc, "ctx", None)
            out.print(context.get_help() if context else str(exc), markup=False)
            code = 0
        else:
            # Always 1: plan and drift use 2 for "changes found", which a usage error must never look like.
            code = 1
            _print_error(_usage_message(exc))
    except Exception as exc:  # a bug or an unexpected library error: still one line unless --debug
        if _debugging():
            raise
        _print_error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        code = 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
        gc.set_threshold(*collecting)
        if _command_line:  # the process ends: its collection at exit need not walk what is about to go (0.2 s)
            gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)


_terminated: list[int] = []  # the SIGTERM received while a command ran, if any


def _terminate(signum: int, frame: object) -> None:
    _terminated.append(signum)
    stopping.request_stop()  # every pause in any thread wakes (infra/stopping.py)
    raise Terminated()


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C: what Python's own handler does, and wake every pause."""
    stopping.request_stop()
    raise KeyboardInterrupt()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _usage_message(exc: Exception) -> str:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = re.sub(r"\s*\n\s*", " ", message.replace("Value error, ", ""))  # click lists choices on lines
    context = getattr(exc, "ctx", None)
    command = getattr(context, "command_path", None) or "infra"
    return f"{message} (see: {command} --help)"


def _print_error(message: str) -> None:
    """The one way an error reaches the user; a URL in it (from a library's message) shows no password."""
    err.print(f"[bold red]error:[/] {escape(mask_url_passwords(message))}", markup=True, highlight=False)
