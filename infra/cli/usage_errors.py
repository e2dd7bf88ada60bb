"""Usage errors that name the command they were typed to; a group given no command shows its help.

click's parser refuses an option given no value (`infra plan --env`, `infra state list -o`) or a flag
given one (`infra apply --auto-approve=yes`) without the context of the command it was parsing, so
the hint after the error pointed to `infra --help` whatever the command, where `-o` is not even
listed. Every other usage error (a bad value, an unknown option, a missing argument) carries its
command's context, and reads `(see: infra plan --help)`: that help lists the command's options and,
under "Global options", the global ones given after it (infra/cli/global_options.py). A command's
parse that fails so is given the context it ran in, so all of them read alike.

A command group alone (`infra`, `infra state`) shows its help (typer's `no_args_is_help`); given
options but no command (`infra state --env x`, `infra --debug`) it said "Missing command." and exit 1.
The only options a group has are `--help` and the global ones, which choose how a command runs and
none is given: such a group shows its help too, as it does alone.
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


def help_without_a_command(command: Any) -> Any:
    """Let each group under `command` (itself included) that shows its help when given nothing show it
    too when given options but no command."""
    for sub in getattr(command, "commands", {}).values():
        help_without_a_command(sub)
    if not hasattr(command, "commands") or not getattr(command, "no_args_is_help", False):
        return command
    invoke = command.invoke
    command.invoke_without_command = True  # not "Missing command.": the group's callback runs, then the help

    def invoke_or_help(ctx: Any) -> Any:
        result = invoke(ctx)
        if ctx.invoked_subcommand is None:
            command.parse_args(ctx, [])  # the group's own answer to no arguments: its help (NoArgsIsHelpError)
        return result

    command.invoke = invoke_or_help
    return command
