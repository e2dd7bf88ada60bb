"""Read nodes.json strictly and turn it into merged, validated groups.

Every problem becomes one `ConfigError` naming the file, the line and column where it can be
found, the group and key, and what to do about it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra import jsontext
from infra.config.environments import Environment, owner_of, parse_environments
from infra.config.groups import build_groups
from infra.config.layout import Layout
from infra.config.locate import BASE_KEY, ENVIRONMENTS_KEY, SETTINGS_KEY, Locator, owner_label, unknown
from infra.config.models import Autoscale, Group, GroupSettings, Settings
from infra.config.printable import check_printable
from infra.config.project import SETTING, Project, default_project
from infra.errors import ConfigError, FileError
from infra.fsutil import read_text
from infra.jsontext import JsonProblem

DEFAULT_CONFIG_FILE = "nodes.json"
# Where an editor finds nodes.json's JSON Schema (`infra init` writes it); infra itself ignores it.
SCHEMA_KEY = "$schema"
TOP_LEVEL_KEYS = (BASE_KEY, SETTINGS_KEY, ENVIRONMENTS_KEY, SCHEMA_KEY)
MAX_CONFIG_BYTES = 64 * 1024 * 1024
# Levels of objects and lists, nodes.json's own included: far beyond any Chef attributes, and
# below what infra reads back from what it writes (jsontext.MAX_DEPTH), values being deeper there.
MAX_DEPTH = 64
# The project of a nodes.json parsed from text alone (tests, tools); load_config derives a real default.
UNNAMED = "default"


@dataclass(frozen=True)
class Config:
    """The validated nodes.json: groups in file order, settings, the project that owns what it
    makes, and the digest of its text."""

    path: str
    groups: dict[str, Group]
    settings: Settings = field(default_factory=Settings)
    digest: str = ""
    project: Project = field(default_factory=lambda: Project(UNNAMED, "no name given"))
    # Every environment of `__environments__`, and the one these groups are merged for (None: none).
    environments: dict[str, Environment] = field(default_factory=dict)
    environment: Environment | None = None

    @property
    def owner(self) -> str:
        """The value of the `infra:owner` tag on everything this nodes.json (in its environment) makes."""
        return owner_of(self.project.name, self.environment_name)

    @property
    def environment_name(self) -> str | None:
        return self.environment.name if self.environment is not None else None

    @property
    def layout(self) -> Layout:
        """Where this environment's files go in the ops repository."""
        return Layout(self.environment_name)

    @property
    def upstream(self) -> Environment | None:
        """The environment whose AMIs this one promotes instead of building (`__settings__.promote`)."""
        promoted_from = self.environment.promoted_from if self.environment else None
        return self.environments[promoted_from] if promoted_from else None

    @property
    def upstream_owner(self) -> str | None:
        """The owner of what the environment this one promotes from makes."""
        upstream = self.upstream
        return owner_of(self.project.name, upstream.name) if upstream is not None else None

    def of_environment(self, name: str) -> Config:
        """This nodes.json as the environment `name` merges it, with the environment's state."""
        if not self.environments:
            raise ConfigError(f"--env {name}: nodes.json defines no environments (__environments__); leave out "
                              f"--env (and INFRA_ENV), or add one", path=self.path)
        if name not in self.environments:
            raise ConfigError(f"--env {name}: " + unknown(f"environment {name!r}", name, self.environments),
                              path=self.path)
        chosen = self.environments[name]
        return replace(self, groups=chosen.groups, environment=chosen,
                       settings=self.settings.model_copy(update={"state": chosen.state}))

    def group(self, name: str) -> Group:
        if name not in self.groups:
            raise ConfigError(unknown(f"group {name!r}", name, self.groups), path=self.path)
        return self.groups[name]

    def select(self, names: list[str] | tuple[str, ...] | None) -> list[Group]:
        """The named groups (every group when none is named); unknown names are an error."""
        if not names:
            return list(self.groups.values())
        return [self.group(name) for name in names]

    def providers_of(self, service: str) -> list[str]:
        return [name for name, group in self.groups.items() if service in group.services]

    def error_at(self, group: str, keys: list[str], message: str) -> ConfigError:
        """An error about a value nodes.json holds, found wrong later (a target group that does not
        exist): located where `group` sets `keys`, or `__base__` when the group inherits them."""
        try:
            text = Path(self.path).read_text()
            document = json.loads(text)
        except (OSError, ValueError):
            return ConfigError(message, path=self.path)
        owner = group if _sets(document.get(group), keys) else BASE_KEY
        return Locator(text, self.path).error([owner, *keys], message)

    def in_region(self, region: str) -> Config:
        """Every group in `region` (`--region`), every environment's too: what infra makes, looks for
        and names is there."""
        def moved(groups: dict[str, Group]) -> dict[str, Group]:
            return {name: group.model_copy(update={"region": region}) for name, group in groups.items()}

        environments = {name: replace(e, groups=moved(e.groups)) for name, e in self.environments.items()}
        chosen = environments[self.environment.name] if self.environment is not None else None
        return replace(self, groups=moved(self.groups), environments=environments, environment=chosen)


def load_config(path: str | Path = DEFAULT_CONFIG_FILE, environment: str | None = None) -> Config:
    """nodes.json from its file, with the project's derived name when it names none; as
    `environment` merges it when one is named."""
    path = Path(path)
    try:
        text = read_text(path, limit=MAX_CONFIG_BYTES, what="nodes.json")
    except FileNotFoundError:
        raise ConfigError(f"no {path.name} in {path.resolve().parent}; run infra in your ops repository "
                          f"or pass --config PATH") from None
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    config = parse_config(text, str(path))
    if not config.project.explicit:
        config = replace(config, project=default_project(path.parent))
    return config.of_environment(environment) if environment is not None else config


def parse_config(text: str, path: str = DEFAULT_CONFIG_FILE, environment: str | None = None) -> Config:
    """nodes.json from its text: every group and every environment validated; as `environment`
    merges it when one is named."""
    document = _parse_json(text, path)
    if not isinstance(document, dict):
        raise ConfigError("the top level must be an object of node groups, e.g. {\"__base__\": {...}, \"web\": {...}}",
                          path=path, line=1, column=1)
    locator = Locator(text, path)
    check_printable(document, locator)
    base = document.get(BASE_KEY, {})
    settings = _settings(document.get(SETTINGS_KEY, {}), locator)
    for key in document:
        if key.startswith("__") and key not in TOP_LEVEL_KEYS:
            raise locator.error([key], unknown("top-level key " + repr(key), key, TOP_LEVEL_KEYS))
    if not isinstance(base, dict):
        raise locator.error([BASE_KEY], "__base__ must be an object of settings every group inherits")
    if not isinstance(document.get(SCHEMA_KEY, ""), str):
        raise locator.error([SCHEMA_KEY], "$schema must be the path or URL of nodes.json's JSON Schema, a string "
                                          "(infra init writes \"./nodes.schema.json\")")
    locator.check_keys(base, GroupSettings, BASE_KEY)
    raw_groups = {name: raw for name, raw in document.items() if name not in TOP_LEVEL_KEYS}
    groups = build_groups(base, raw_groups, locator)
    environments = parse_environments(document.get(ENVIRONMENTS_KEY), base, raw_groups, settings, locator)
    project = Project(settings.project, SETTING) if settings.project else Project(UNNAMED, "no name given")
    config = Config(path=path, groups=groups, settings=settings, digest=hashlib.sha256(text.encode()).hexdigest(),
                    project=project, environments=environments)
    return config.of_environment(environment) if environment is not None else config


def _parse_json(text: str, path: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) < len(pairs):  # a key twice: the first one repeated is named
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise _DuplicateKey(key)
                seen.add(key)
        return result

    try:
        return jsontext.loads(text, max_depth=MAX_DEPTH, object_pairs_hook=no_duplicates)
    except JsonProblem as exc:
        if exc.keys:
            owner, *keys = exc.keys
            message = f"{owner_label(owner)}: key {jsontext.dotted(keys)!r}: " if keys else f"key {owner!r}: "
            raise Locator(text, path).error(exc.keys, f"{message}{exc.message}; {exc.hint}") from None
        raise ConfigError(f"{exc.message}; {exc.hint}", path=path, line=exc.line, column=exc.column) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}{_json_hint(text, exc)}", path=path, line=exc.lineno,
                          column=exc.colno) from None
    except _DuplicateKey as exc:
        occurrences = [m.start() for m in re.finditer(re.escape(json.dumps(exc.key)) + r"\s*:", text)]
        line, column = jsontext.line_column(text, occurrences[1]) if len(occurrences) > 1 else (None, None)
        raise ConfigError(f"key {exc.key!r} appears twice in the same object; JSON keeps only the last, "
                          f"so remove one", path=path, line=line, column=column) from None


def _json_hint(text: str, exc: json.JSONDecodeError) -> str:
    """What most likely made `text` invalid JSON where `exc` says, as a parenthesised hint ("" if unsure)."""
    at = text[exc.pos:exc.pos + 2]
    if at.startswith(("//", "/*", "#")):
        return " (JSON has no comments: remove it, or say it in a group's \"description\")"
    if not text[exc.pos:].strip():
        return " (the file ends too soon: is a closing '}' or ']' missing?)"
    if exc.msg.startswith("Expecting") and at.startswith("'"):
        return " (JSON strings take double quotes, not single)"
    if exc.msg.startswith("Illegal trailing comma") or (exc.msg.startswith("Expecting property name")
                                                        and text[:exc.pos].rstrip().endswith(",")):
        return " (is there a trailing comma?)"
    return ""


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _settings(raw: Any, locator: Locator) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise locator.from_validation(exc, SETTINGS_KEY, raw, raw, Settings) from None


__all__ = ["Autoscale", "Config", "load_config", "parse_config"]


def _sets(settings: Any, keys: list[str]) -> bool:
    """Whether `settings` (one group's, as written) sets the value at `keys` itself."""
    for key in keys:
        if not isinstance(settings, dict) or key not in settings:
            return False
        settings = settings[key]
    return True
