"""Read nodes.json strictly and turn it into merged, validated groups.

Every problem becomes one `ConfigError` naming the file, the line and column where it can be
found, the group and key, and what to do about it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from infra import jsontext
from infra.config.merge import merge_group
from infra.config.models import Autoscale, Group, GroupSettings, Settings, check_group_name
from infra.config.project import SETTING, Project, default_project
from infra.errors import ConfigError, FileError
from infra.fsutil import read_text
from infra.jsontext import JsonProblem

DEFAULT_CONFIG_FILE = "nodes.json"
BASE_KEY = "__base__"
SETTINGS_KEY = "__settings__"
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

    @property
    def owner(self) -> str:
        """The value of the `infra:owner` tag on everything this nodes.json makes."""
        return self.project.name

    def group(self, name: str) -> Group:
        if name not in self.groups:
            raise ConfigError(_unknown(f"group {name!r}", name, self.groups), path=self.path)
        return self.groups[name]

    def select(self, names: list[str] | tuple[str, ...] | None) -> list[Group]:
        """The named groups (every group when none is named); unknown names are an error."""
        if not names:
            return list(self.groups.values())
        return [self.group(name) for name in names]

    def providers_of(self, service: str) -> list[str]:
        return [name for name, group in self.groups.items() if service in group.services]

    def in_region(self, region: str) -> "Config":
        """Every group in `region` (`--region`): what infra makes, looks for and names is there."""
        return replace(self, groups={name: group.model_copy(update={"region": region})
                                     for name, group in self.groups.items()})


def load_config(path: str | Path = DEFAULT_CONFIG_FILE) -> Config:
    path = Path(path)
    try:
        text = read_text(path, limit=MAX_CONFIG_BYTES, what="nodes.json")
    except FileNotFoundError:
        raise ConfigError(f"no {path.name} in {path.resolve().parent}; run infra in your ops repository "
                          f"or pass --config PATH") from None
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    config = parse_config(text, str(path))
    if config.project.explicit:
        return config
    return replace(config, project=default_project(path.parent))


def parse_config(text: str, path: str = DEFAULT_CONFIG_FILE) -> Config:
    document = _parse_json(text, path)
    if not isinstance(document, dict):
        raise ConfigError("the top level must be an object of node groups, e.g. {\"__base__\": {...}, \"web\": {...}}",
                          path=path, line=1, column=1)
    locator = _Locator(text, path)
    base = document.get(BASE_KEY, {})
    settings = _settings(document.get(SETTINGS_KEY, {}), locator)
    for key in document:
        if key.startswith("__") and key not in (BASE_KEY, SETTINGS_KEY):
            raise locator.error([key], _unknown("top-level key " + repr(key), key, [BASE_KEY, SETTINGS_KEY]))
    if not isinstance(base, dict):
        raise locator.error([BASE_KEY], "__base__ must be an object of settings every group inherits")
    _check_settings(base, BASE_KEY, locator)
    groups: dict[str, Group] = {}
    for name, raw in document.items():
        if name in (BASE_KEY, SETTINGS_KEY):
            continue
        try:
            check_group_name(name)
        except ValueError as exc:
            raise locator.error([name], str(exc)) from None
        if not isinstance(raw, dict):
            raise locator.error([name], f"group {name!r} must be an object of settings, not {type(raw).__name__}")
        _check_settings(raw, name, locator)
        merged = merge_group(base, raw)
        try:
            groups[name] = Group.model_validate({**merged, "name": name})
        except ValidationError as exc:
            raise locator.from_validation(exc, name, raw, merged) from None
    _check_references(groups, locator)
    project = Project(settings.project, SETTING) if settings.project else Project(UNNAMED, "no name given")
    return Config(path=path, groups=groups, settings=settings, digest=hashlib.sha256(text.encode()).hexdigest(),
                  project=project)


def _parse_json(text: str, path: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise _DuplicateKey(key)
            result[key] = value
        return result

    try:
        return jsontext.loads(text, max_depth=MAX_DEPTH, object_pairs_hook=no_duplicates)
    except JsonProblem as exc:
        if exc.keys:
            owner, *keys = exc.keys
            message = f"{_owner(owner)}: key {jsontext.dotted(keys)!r}: " if keys else f"key {owner!r}: "
            raise _Locator(text, path).error(exc.keys, f"{message}{exc.message}; {exc.hint}") from None
        raise ConfigError(f"{exc.message}; {exc.hint}", path=path, line=exc.line, column=exc.column) from None
    except json.JSONDecodeError as exc:
        hint = ""
        if exc.msg.startswith("Expecting") and text[exc.pos:exc.pos + 1] == "'":
            hint = " (JSON strings take double quotes, not single)"
        elif exc.msg.startswith("Expecting property name") or exc.msg.startswith("Illegal trailing comma"):
            hint = " (is there a trailing comma?)"
        raise ConfigError(f"invalid JSON: {exc.msg}{hint}", path=path, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        occurrences = [m.start() for m in re.finditer(re.escape(json.dumps(exc.key)) + r"\s*:", text)]
        line, column = jsontext.line_column(text, occurrences[1]) if len(occurrences) > 1 else (None, None)
        raise ConfigError(f"key {exc.key!r} appears twice in the same object; JSON keeps only the last, "
                          f"so remove one", path=path, line=line, column=column) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _settings(raw: Any, locator: "_Locator") -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise locator.from_validation(exc, SETTINGS_KEY, raw, raw, model=Settings) from None


def _check_settings(raw: dict[str, Any], owner: str, locator: "_Locator") -> None:
    """Validate the keys a group (or __base__) writes itself, so errors point at that group."""
    try:
        GroupSettings.model_validate(raw)
    except ValidationError as exc:
        real = [e for e in exc.errors() if e["type"] != "missing"]
        if real:
            raise locator.from_errors(real, owner, raw) from None


def _check_references(groups: dict[str, Group], locator: "_Locator") -> None:
    for name, group in groups.items():
        source = group.source_group
        if source is not None and source not in groups:
            raise locator.error([name, "source_ami"], f"group {name!r}: source_ami @{source}: "
                                                      + _unknown(f"group {source!r}", source, groups))
        if source is not None and groups[source].region != group.region:
            raise locator.error([name, "source_ami"], f"group {name!r}: source_ami @{source}: group {source!r} builds "
                                                      f"in {groups[source].region}, {name!r} in {group.region}; "
                                                      f"an AMI is used in its own region only, so put both in one")
        if source is not None and not groups[source].packer:
            raise locator.error([name, "source_ami"], f"group {name!r}: source_ami @{source}: group {source!r} has "
                                                      f"\"packer\": false, so it has no AMI to build from; name "
                                                      f"an AMI id, or let {source!r} build one")
    acyclic: set[str] = set()  # groups whose chain of sources is known to end in an AMI id
    for name, group in groups.items():
        source = group.source_group
        seen, on_chain = [name], {name}
        while source is not None and source not in acyclic:
            if source in on_chain:
                cycle = " -> ".join([*seen[seen.index(source):], source])
                raise locator.error([name, "source_ami"], f"source_ami references form a cycle: {cycle}; "
                                                          f"one group must build from an AMI id")
            seen.append(source)
            on_chain.add(source)
            source = groups[source].source_group
        acyclic.update(seen)
    provided = {service for group in groups.values() for service in group.services}
    for name, group in groups.items():
        for service in group.depends_on:
            if service not in provided:
                known = ", ".join(sorted(provided)) or "none"
                raise locator.error([name, "depends_on"], f"group {name!r} depends_on {service!r}, which no group's "
                                                          f"run list provides (services: {known})")


_LISTED = 10  # names listed in an error before "and N more"


def _unknown(what: str, name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"unknown {what}; did you mean {close[0]!r}?"
    known = list(known)
    listed = ", ".join(repr(k) for k in known[:_LISTED])
    if len(known) > _LISTED:
        listed += f" and {len(known) - _LISTED} more"
    return f"unknown {what}; known: {listed}" if listed else f"unknown {what}"


class _Locator:
    """Finds where in the text a group's key is written, to point errors at it."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path

    def position(self, keys: list[Any]) -> tuple[int | None, int | None]:
        pos, found = 0, None
        for key in keys:
            if not isinstance(key, str):
                break
            match = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(self.text, pos)
            if not match:
                break
            found, pos = match.start(), match.end()  # the next key is further on, even one of the same name
        return jsontext.line_column(self.text, found) if found is not None else (None, None)

    def error(self, keys: list[Any], message: str) -> ConfigError:
        line, column = self.position(keys)
        return ConfigError(message, path=self.path, line=line, column=column)

    def from_validation(self, exc: ValidationError, owner: str, raw: Any, merged: Any,
                        model: type[BaseModel] = GroupSettings) -> ConfigError:
        return self.from_errors(exc.errors(), owner, raw, merged, model)

    def from_errors(self, errors: list[Any], owner: str, raw: Any, merged: Any = None,
                    model: type[BaseModel] = GroupSettings) -> ConfigError:
        error = errors[0]
        loc = [part for part in error["loc"] if part not in ("name", "[key]")]  # [key]: the dict key itself
        dotted = ".".join(str(part) for part in loc)
        what = _owner(owner)
        if error["type"] == "extra_forbidden":
            message = f"{what}: {_unknown(f'key {dotted!r}', str(loc[-1]), _known_keys(model, loc[:-1]))}"
        elif error["type"] == "missing":
            message = (f"{what} has no {dotted!r}; set it in the group or in __base__")
        else:
            detail = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
            if error["msg"].startswith("Input should be "):
                detail = f"should be {detail}, got {_short(error.get('input'))}"
            message = f"{what}: key {dotted!r}: {detail}" if dotted else f"{what}: {detail}"
        in_raw = isinstance(raw, dict) and loc and loc[0] in raw
        keys = [owner, *loc] if in_raw or owner == BASE_KEY else ([BASE_KEY, *loc] if loc else [owner])
        return self.error(keys, message)


def _owner(owner: str) -> str:
    return "__settings__" if owner == SETTINGS_KEY else ("__base__" if owner == BASE_KEY else f"group {owner!r}")


def _known_keys(model: type[BaseModel], loc: list[Any]) -> list[str]:
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)
                      and issubclass(a, BaseModel)]
        if not candidates:
            return []
        model = candidates[0]
    return [name for name in model.model_fields if name != "name"]


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["Autoscale", "Config", "load_config", "parse_config"]
