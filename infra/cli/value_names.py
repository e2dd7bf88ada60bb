"""Help that names what a value is (`--out FILE`, `--ttl SECONDS`, `GROUP`), not its Python type.

Typer labels every option and argument with its annotation (`<str>`, `<list[str]>`, `<int>`);
a user wants to read what to give. Options whose values are named alike across commands (every
`--etcd` is a URL) are named here once; any other value is called after its option or argument
(`--zone ZONE`, `GROUP`). Choices keep typer's list of them (`<text|json|markdown>`).
"""

from __future__ import annotations

from typing import Any

VALUE_NAMES = {
    "--config": "PATH",
    "--endpoint-url": "URL",
    "--etcd": "URL",
    "--etcd-prefix": "PREFIX",
    "--out": "FILE",
    "--record": "FILE",
    "--key": "PATH",
    "--exec": "CMD",
    "--address": "HOST[:PORT]",
    "--ttl": "SECONDS",
    "--grace": "SECONDS",
    "--debounce": "SECONDS",
    "--retry": "SECONDS",
    "--timeout": "SECONDS",
    "--var": "NAME=VALUE",
    "--max-errors": "N|N%",
    "--parallelism": "N",
    "--keep": "KEEP",
    "--batch": "BATCH",
}


def name_values(command: Any) -> Any:
    """Give every option and argument of `command` (and of its subcommands) a value name."""
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "is_flag", False):
            continue
        if param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            if not descriptor.is_choice:  # its help row shows its type beside its name: the name says it all
                param.display_type_rich = _no_type
        elif param.metavar is None and not descriptor.is_choice:
            long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            param.metavar = VALUE_NAMES.get(long, long.lstrip("-").replace("-", "_").upper())
    for sub in getattr(command, "commands", {}).values():
        name_values(sub)
    return command


def _no_type(ctx: Any) -> None:
    return None
