"""Commands that read nodes.json and change nothing in the world: validate, show, schema, init."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from infra.cli.app import Output, app, err, fail, options, out
from infra.config import load_config
from infra.config.environments import require_environment
from infra.config.schema import nodes_json_schema
from infra.operations.editor_setup import SCHEMA_FILE, set_up_editors
from infra.operations.generated import generate as write_generated
from infra.operations.generated import stale_files
from infra.redact import masked

SHOWN_GROUPS = 20  # group names validate lists before "and N more"


@app.command()
def validate() -> None:
    """Check nodes.json (every environment): syntax, keys, types, names, references. Exit 1 with the first problem."""
    config = load_config(options.config, options.env)
    names = list(config.groups)
    listed = ", ".join(names[:SHOWN_GROUPS]) or "none"
    if len(names) > SHOWN_GROUPS:
        listed += f" and {len(names) - SHOWN_GROUPS} more (infra graph --desired draws every resource)"
    out.print(f"{config.path} is valid: {len(names)} group(s): {listed}")
    if config.environments:
        out.print(f"environments: {', '.join(config.environments)}, each checked (infra env list shows them)")
    made = f"project {config.project.name} (from {config.project.source}): it owns what infra makes here"
    if config.environment is not None:
        made = f"environment {config.environment.name} of {made}, tagged infra:owner={config.owner}"
    out.print(made)


@app.command()
def show(group: str = typer.Argument(..., help="Group name."),
         output: Output = typer.Option(Output.text, "--output", "-o", help="Output format.")) -> None:
    """Show GROUP as it reads after inheriting from __base__."""
    config = load_config(options.config, options.env)
    require_environment(config)
    merged = config.group(group)
    settings = masked(merged.model_dump(mode="json", exclude={"name"}))  # like plan: no secret on screen
    settings["autoscale"] = settings["autoscale"] or False
    if output is Output.json:
        out.print_json(json.dumps(settings))
        return
    out.print(f"[bold]{group}[/]", markup=True)
    for key, value in settings.items():
        out.print(f"  {key} = {json.dumps(value)}", markup=False)
    out.print(f"  role run_list = {json.dumps(merged.role_run_list)}", markup=False)
    if merged.services:
        out.print(f"  services = {json.dumps(merged.services)}", markup=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of nodes.json, for editors."""
    out.print_json(json.dumps(nodes_json_schema()))


@app.command()
def init() -> None:
    """Set up editors for nodes.json: write nodes.schema.json, add "$schema" to nodes.json (a starter
    nodes.json when there is none) and map the schema in .vscode/settings.json. Run it again after
    upgrading infra: it rewrites only what changed and keeps your settings."""
    setup = set_up_editors(Path(options.config))
    for name in setup.written:
        out.print(f"wrote {name}", markup=False)
    if setup.unchanged:
        out.print(f"already set up: {', '.join(setup.unchanged)}", markup=False)
    for line in setup.todo:
        err.print(f"note: {line}", markup=False, highlight=False)
    out.print(f"Editors now complete and check {Path(options.config).name} against {SCHEMA_FILE} (VS Code, "
              f"JetBrains IDEs); commit both.", markup=False)


@app.command()
def generate(check: bool = typer.Option(
        False, "--check", help="Write nothing: exit 1 naming each generated file that is not what nodes.json "
                               "makes (for pre-commit and CI).")) -> None:
    """Write the generated files (roles/, packer/, dna/) from nodes.json, for every environment (or --env's),
    and remove those of groups it no longer has. No cloud, no state: commit them with nodes.json."""
    config = Path(options.config)
    if not check:
        done = write_generated(config, options.env)
        for line in done:
            out.print(line, markup=False)
        out.print(f"{len(done)} generated file(s) written or removed." if done
                  else "Generated files are current: nothing to write.", markup=False)
        return
    stale = stale_files(config, options.env)
    if not stale:
        out.print("Generated files are current with nodes.json.", markup=False)
        return
    for item in stale:
        err.print(item.line(), markup=False, highlight=False)
    raise fail(f"{len(stale)} generated file(s) out of date with {config.name}: run infra generate, then commit them")
