"""Global options after the command too: `infra plan --env prod`, `infra state list -c ops/nodes.json`.

The app's callback declares the global options (`--config/-c`, `--env`, `--region`, ...: the fields
of `Options`), and click takes them only before the command. Operators type them after it, as
kubectl's flags go anywhere (`kubectl get pods -n x`). So every command and command group under the
root gets a copy of each of the root's global options: the same flags, type, help and environment
variable, parsed by click itself, so a value is accepted or refused with the same message. A copy
hands nothing to the command's function (`expose_value` off); its callback sets the field of
`options` when the value was typed on the command line (from the environment or the default, the
root has read it already). Click runs a group's callback before it parses the sub-command's
arguments, so the option after the command is set last and wins, as a repeated option does
(`infra --env a --env b` is b): a wrapper or alias that puts options first can be overridden per
command, which refusing the pair would forbid.

Why copies of click parameters, not an argv pre-pass moving the options before the command: the
pre-pass would have to know, command by command, which words are the values of the command's own
options (`services:watch --exec --debug`, `-ojson`, `--`), that is re-implement click's parser;
and `--help` and shell completion would not know the options after the command. The copies use only
click's public Parameter, Context and Command API (`opts`, `expose_value`, `callback`,
`get_parameter_source`, `get_params`, `format_options`), which typer 0.29's own copy of click keeps.

A command's own option keeps its meaning: a copy leaves out the flags the command defines itself (a
`--region` of its own, or a `-c` meaning something else), and `flags_left_to` names them for the
command reference. No command has one today. `--version`, `--install-completion` and
`--show-completion` are not copied: they answer in place of a command rather than set how it runs.
`--help` lists the copies apart, under "Global options".
"""

from __future__ import annotations

import copy
from dataclasses import fields
from functools import partial
from typing import Any

GLOBAL_OPTIONS = "Global options"  # the section of each command's --help that lists them


def accept_after_commands(root: Any, options: Any) -> Any:
    """Let every command and command group under `root` take the root's options named by the fields of
    `options` (a dataclass), setting them on `options` when given there."""
    copies = [(param, _after(param, param.opts, options)) for param in global_options(root, options)]
    for command in root.commands.values():
        _accept(command, copies, options)
    return root


def global_options(root: Any, options: Any) -> list[Any]:
    """The root's options that are fields of `options`, in the order `infra --help` lists them."""
    names = {field.name for field in fields(options)}
    return [param for param in root.params if param.name in names]


def flags_left_to(command: Any, shared: list[Any]) -> list[str]:
    """The global flags `command` defines itself (and so means its own way)."""
    own = _own_flags(command)
    return [flag for param in shared for flag in param.opts if flag in own]


def _accept(command: Any, copies: list[tuple[Any, Any]], options: Any) -> None:
    """Give `command` (and its sub-commands) a copy of each global option, less the flags it has of its
    own. A whole copy is shared by the commands that take it (click keeps a parse's values in its context)."""
    own = _own_flags(command)
    added = []
    for param, whole in copies:
        flags = [flag for flag in param.opts if flag not in own]
        if flags:
            added.append(whole if flags == param.opts else _after(param, flags, options))
    command.params = [*command.params, *added]
    command.format_options = partial(_format_options, command, {id(param) for param in added})
    for sub in getattr(command, "commands", {}).values():
        _accept(sub, copies, options)


def _after(param: Any, flags: list[str], options: Any) -> Any:
    """A copy of the root's option `param` with these of its flags, that sets `options` when given."""
    after = copy.copy(param)
    after.name = f"global_{param.name}"  # never the name of one of the command's own parameters
    after.opts = flags
    after.expose_value = False
    after.callback = partial(_given_after, options, param.name)
    return after


def _own_flags(command: Any) -> set[str]:
    return {flag for param in command.params if param.param_type_name == "option"
            for flag in (*param.opts, *param.secondary_opts)}


def _given_after(options: Any, name: str, ctx: Any, param: Any, value: Any) -> Any:
    source = ctx.get_parameter_source(param.name)
    if source is not None and source.name == "COMMANDLINE":  # not the environment's or the default: the root's
        options.set(name, value)
    return value


def _format_options(command: Any, added: set[int], ctx: Any, formatter: Any) -> None:
    """Typer's sections (Arguments, Options, a group's Commands) with the global options apart."""
    sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": [], GLOBAL_OPTIONS: []}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if id(param) in added:
            sections[GLOBAL_OPTIONS].append(record)
        else:
            sections["Arguments" if param.param_type_name == "argument" else "Options"].append(record)
    for title, records in sections.items():
        if records:
            with formatter.section(title):
                formatter.write_dl(records)
    if hasattr(command, "format_commands"):
        command.format_commands(ctx, formatter)
