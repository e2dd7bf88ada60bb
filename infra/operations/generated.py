"""`infra generate [--check]`: the generated files (roles, Packer templates, dna) written from
nodes.json, or checked against it, with no cloud and no state.

The workflow it serves (docs/ci.md): generated files are committed with nodes.json, so every clone
has what was applied and a second clone's plan is not full of files to "create". The check is to
them what `terraform fmt -check` is to .tf files: a pre-commit hook and a CI step that fail naming
each stale file. Every environment of nodes.json is covered (each has its own folders), or the one
`--env` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import Config, load_config
from infra.errors import ProviderError
from infra.fsutil import atomic_write_json, inside_repository
from infra.providers.files import FilesProvider
from infra.reconciler.graph import desired_graph
from infra.reconciler.kinds import LOCAL_KINDS
from infra.reconciler.resources import Resource

GENERATE = "infra generate"


@dataclass(frozen=True)
class Stale:
    """A generated file that is not what nodes.json makes: `document` None is one to remove."""

    path: str
    why: str
    document: Any = None
    environment: str | None = None

    def line(self) -> str:
        where = f" (environment {self.environment})" if self.environment else ""
        command = f"infra --env {self.environment} generate" if self.environment else GENERATE
        return f"{self.path}: {self.why}{where}; run: {command}"


def stale_files(config_path: Path, environment: str | None = None) -> list[Stale]:
    """Every generated file that differs from what nodes.json makes, is missing, or that nodes.json
    no longer makes (a removed group's dna and Packer template; roles are never taken for those)."""
    stale: list[Stale] = []
    for config in _configs(config_path, environment):
        stale.extend(_stale_in(config, config_path.resolve().parent))
    return stale


def generate(config_path: Path, environment: str | None = None) -> list[str]:
    """Write what is stale, remove what nodes.json no longer makes; what was done, one line each."""
    root = config_path.resolve().parent
    done = []
    for item in stale_files(config_path, environment):
        path = root / inside_repository(item.path)
        if item.document is None:
            path.unlink(missing_ok=True)
            done.append(f"removed {item.path}")
        else:
            atomic_write_json(path, item.document)
            done.append(f"wrote {item.path}")
    return done


def _configs(config_path: Path, environment: str | None) -> list[Config]:
    config = load_config(config_path)
    if environment is not None:
        return [config.of_environment(environment)]
    if not config.environments:
        return [config]
    return [config.of_environment(name) for name in config.environments]


def _stale_in(config: Config, root: Path) -> list[Stale]:
    wanted: list[Resource] = [r for r in desired_graph(config, root) if r.kind in LOCAL_KINDS]
    try:
        found = FilesProvider(root, config.layout).observe(wanted).found
    except ProviderError as exc:
        raise ProviderError(f"{exc} (then run: {GENERATE})") from None
    env = config.environment_name
    stale = []
    for resource in wanted:
        path, document = resource.attributes["path"], resource.attributes["document"]
        seen = found.pop(resource.address, None)
        if seen is None:
            stale.append(Stale(path, "missing", document, env))
        elif seen.attributes.get("document") != document:
            stale.append(Stale(path, "differs from what nodes.json makes", document, env))
    for orphan in found.values():  # what is left: files of groups nodes.json no longer has
        stale.append(Stale(orphan.attributes["path"], "nodes.json no longer makes it", None, env))
    return sorted(stale, key=lambda item: item.path)
