"""Write docs/commands.md from the command line itself, so the reference never drifts from it.

    .venv/bin/python scripts/command_reference.py > docs/commands.md    (or: make docs)
"""

from __future__ import annotations

from enum import Enum

import typer

from infra.cli import app
from infra.cli.app import options
from infra.cli.global_options import flags_left_to, global_options

SECTIONS = [
    ("Reading nodes.json", ["validate", "show", "schema", "graph", "init", "generate"]),
    ("Plan, apply, drift, import", ["plan", "apply", "drift", "import"]),
    ("Usage and cost", ["usage"]),
    ("Chef roles and dna files", ["role:create", "role:update", "roles:create", "roles:update", "autoscale:create"]),
    ("AMIs", ["packer:create", "packer:run", "packer:clean", "packer:delete"]),
    ("Autoscaling groups and instances", ["autoscale:run", "autoscale:update", "rollback", "rollout", "instance:create",
                                          "instance:deploy"]),
    ("Service registry (etcd)", ["services:notify", "services:decommission", "services:collect", "services:list",
                                 "services:watch", "services:render"]),
    ("Local sandbox", ["sandbox"]),
    ("State", ["state"]),
    ("Environments", ["env"]),
    ("Shell completion", ["completion"]),
]


def options_table(command) -> list[str]:
    rows = []
    for param in command.params:
        if param.param_type_name == "argument":
            name = f"`{param.name.upper()}`" + ("..." if param.nargs == -1 else "")
        else:
            name = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
        help_text = (getattr(param, "help", None) or "").replace("|", "\\|").replace("\n", " ")
        kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        choices = [m.value for m in kind] if isinstance(kind, type) and issubclass(kind, Enum) else None
        if choices:
            help_text += (" " if help_text else "") + "One of: " + ", ".join(f"`{c}`" for c in choices) + "."
        default = getattr(param.default, "value", param.default)
        shown = "" if default in (None, (), [], False) or param.required else f"`{default}`"
        if getattr(param, "envvar", None):
            help_text += f" Env: `{param.envvar}`."
        rows.append(f"| {name} | {help_text.strip()} | {shown} |")
    if not rows:
        return []
    return ["| argument / option | what | default |", "| --- | --- | --- |", *rows, ""]


def describe(path: str, command) -> list[str]:
    lines = [f"### `{path}`", "", (command.help or "").strip().split("\n\n")[0].replace("\n", " "), ""]
    return lines + options_table(command)


def global_options_text(root) -> list[str]:
    shared = global_options(root, options)
    flags = ", ".join("/".join(f"`{flag}`" for flag in param.opts) for param in shared)
    left = [f"`infra {path}` keeps its own {', '.join(f'`{flag}`' for flag in taken)}"
            for path, command in commands(root) if (taken := flags_left_to(command, shared))]
    return [f"They go before the command or after it, or after a group's sub-command, with the same meaning and "
            f"environment variables: `infra --config ops/nodes.json plan` is `infra plan --config ops/nodes.json`, "
            f"`infra --env prod state list` is `infra state list --env prod`. Given both before and after the "
            f"command, the one after wins (as when an option is repeated): `infra --env staging plan --env prod` "
            f"plans prod. This holds for {flags}; each command's `--help` lists them under \"Global options\". "
            + (f"A command's own option of the same name keeps its meaning (the global one then goes before it "
               f"only): {'; '.join(left)}." if left else "No command has an option of the same name (one would keep "
               "its meaning, the global one then going before it only).")
            + " `--version`, `--install-completion` and `--show-completion` go before the command only. A group"
              " given global options but no command (`infra state --env prod`) shows its help, as it does alone."]


def commands(root, prefix=""):
    """Every command and group under `root`, with its path after `infra`."""
    for name, command in root.commands.items():
        yield f"{prefix}{name}", command
        yield from commands(command, f"{prefix}{name} ") if hasattr(command, "commands") else ()


def main() -> None:
    root = typer.main.get_command(app)
    lines = ["# Command reference", "",
             "Generated from `infra --help` by `scripts/command_reference.py` (`make docs`); do not edit by hand.",
             "", "## Global options", "", *global_options_text(root), "", *options_table(root)]
    listed = set()
    for title, names in SECTIONS:
        lines += [f"## {title}", ""]
        for name in names:
            command = root.commands[name]
            listed.add(name)
            if hasattr(command, "commands"):
                for sub in command.commands.values():
                    lines += describe(f"infra {name} {sub.name}", sub)
            else:
                lines += describe(f"infra {name}", command)
    missing = set(root.commands) - listed
    if missing:
        raise SystemExit(f"add these commands to a section of scripts/command_reference.py: {sorted(missing)}")
    print("\n".join(lines).rstrip() + "\n", end="")


if __name__ == "__main__":
    main()
