"""Write docs/commands.md from the command line itself, so the reference never drifts from it.

    .venv/bin/python scripts/command_reference.py > docs/commands.md    (or: make docs)
"""

from __future__ import annotations

from enum import Enum

import typer

from infra.cli import app

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


def main() -> None:
    root = typer.main.get_command(app)
    lines = ["# Command reference", "",
             "Generated from `infra --help` by `scripts/command_reference.py` (`make docs`); do not edit by hand.",
             "", "## Global options", "", "They come before the command: `infra --config ops/nodes.json plan`.", "",
             *options_table(root)]
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
