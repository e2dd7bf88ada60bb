"""Usage errors that name the command they were typed to.

click's parser refuses an option given no value (`infra plan --env`, `infra state list -o`) or a flag
given one (`infra apply --auto-approve=yes`) without the context of the command it was parsing, so
the hint after the error pointed to `infra --help` whatever the command, where `-o` is not even
listed. Every other usage error (a bad value, an unknown option, a missing argument) carries its
command's context, and reads `(see: infra plan --help)`: that help lists the command's options and,
under "Global options", the global ones given after it (infra/cli/global_options.py). A command's
parse that fails so is given the context it ran in, so all of them read alike.
"""

from __future__ import annotations

from typing import Any

import typer


def named_after_their_command(command: Any) -> Any:
    """Give the usage errors of `command` (and of its sub-commands) that name no command the one
    they were parsed for."""
    parse_args = command.parse_args

    def parse_args_in_context(ctx: Any, args: list[str]) -> Any:
        try:
            return parse_args(ctx, args)
        except typer.TyperException as exc:  # click's UsageError, in typer's own copy of click
            usage: Any = exc
            if hasattr(usage, "ctx") and usage.ctx is None:
                usage.ctx, usage.cmd = ctx, ctx.command
            raise

    command.parse_args = parse_args_in_context
    for sub in getattr(command, "commands", {}).values():
        named_after_their_command(sub)
    return command
