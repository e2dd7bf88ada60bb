"""`infra env list`: nodes.json's environments, where each runs and keeps its state."""

from __future__ import annotations

import json

import typer

from infra.cli.app import Output, app, err, options
from infra.config import load_config
from infra.config.environments import described

env_app = typer.Typer(help="nodes.json's environments (__environments__); choose one with --env NAME.",
                      no_args_is_help=True)
app.add_typer(env_app, name="env")

COLUMNS = ("ENVIRONMENT", "REGIONS", "ACCOUNT", "STATE", "AMIS")


@env_app.command("list")
def env_list(output: Output = typer.Option(Output.text, "--output", "-o", help="Output format.")) -> None:
    """Each environment: its region(s), AWS account, state location, and where its AMIs come from."""
    config = load_config(options.config)
    if options.region:
        config = config.in_region(options.region)
    rows = described(config.project.name, config.environments)
    if output is Output.json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:  # on stderr: a script reading stdout sees an empty list
        err.print(f"{config.path} defines no environments (__environments__); see docs/environments.md",
                  markup=False, highlight=False)
        return
    lines = [COLUMNS] + [(row["name"], ", ".join(row["regions"]) or "-", _account(row), row["state"],
                          f"promoted from {row['promoted_from']}" if row["promoted_from"] else "built here")
                         for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _account(row: dict) -> str:
    """The account nodes.json names (or its role's), and how infra reaches it."""
    how = (f"role {row['role_arn'].rsplit('/', 1)[-1]}" if row["role_arn"]
           else f"profile {row['profile']}" if row["profile"] else "")
    if row["account"]:
        return f"{row['account']} ({how})" if how else row["account"]
    return f"the credentials' ({how})" if how else "the credentials'"
