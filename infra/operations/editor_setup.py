"""`infra init`: an ops repository set up so editors complete and check nodes.json as it is typed.

Three things, each written only when missing or out of date, and never at the cost of what the
user wrote: nodes.schema.json (the schema `infra schema` prints) beside nodes.json; a `"$schema"`
key at the top of nodes.json, which JetBrains IDEs and VS Code both follow, inserted into the text
as it is (indentation and key order kept); and VS Code's `json.schemas` mapping in
.vscode/settings.json, merged into the settings already there. A settings file VS Code reads but
JSON does not (comments, trailing commas) is left alone and the lines to add are said instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config.loader import SCHEMA_KEY
from infra.config.schema import nodes_json_schema
from infra.errors import ConfigError, FileError
from infra.fsutil import atomic_write_text, dump_json, read_text

SCHEMA_FILE = "nodes.schema.json"
VSCODE_SETTINGS = ".vscode/settings.json"
STARTER = {"__base__": {"region": "us-east-1", "instance_type": "t3.small", "source_ami": "ami-1ebb2077",
                        "run_list": ["recipe[base]"]}}
_MAX_SETTINGS_BYTES = 1024 * 1024


@dataclass
class Setup:
    """What `init` did, one line per file, and what it could not do by itself."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


def set_up_editors(config_path: Path) -> Setup:
    """Write the schema, point nodes.json at it, and map it in VS Code's settings."""
    root = config_path.resolve().parent
    reference = f"./{SCHEMA_FILE}"
    setup = Setup()
    _write_if_changed(root / SCHEMA_FILE, dump_json(nodes_json_schema()), setup, SCHEMA_FILE)
    _point_at_schema(config_path, reference, setup)
    _map_in_vscode(root, config_path.name, reference, setup)
    return setup


def _write_if_changed(path: Path, text: str, setup: Setup, shown: str) -> None:
    try:
        current = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        current = None
    if current == text:
        setup.unchanged.append(shown)
        return
    atomic_write_text(path, text)
    setup.written.append(shown)


def _point_at_schema(config_path: Path, reference: str, setup: Setup) -> None:
    """Add `"$schema"` to nodes.json (a starter nodes.json when there is none)."""
    if not config_path.exists():
        _write_if_changed(config_path, dump_json({SCHEMA_KEY: reference, **STARTER}), setup, config_path.name)
        return
    text = read_text(config_path, limit=64 * 1024 * 1024, what="nodes.json")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}; fix it (infra validate says more), then run infra init again",
                          path=str(config_path), line=exc.lineno, column=exc.colno) from None
    if not isinstance(document, dict):
        raise ConfigError("the top level must be an object of node groups", path=str(config_path), line=1, column=1)
    if SCHEMA_KEY in document:
        setup.unchanged.append(config_path.name)
        if document[SCHEMA_KEY] != reference:
            setup.todo.append(f"{config_path.name} already names its schema {document[SCHEMA_KEY]!r}, not "
                              f"{reference!r}: left as it is")
        return
    atomic_write_text(config_path, with_schema_key(text, reference))
    setup.written.append(config_path.name)


def with_schema_key(text: str, reference: str) -> str:
    """`text` (a JSON object) with `"$schema": reference` as its first key, the rest as it was:
    on a line of its own, indented like the key after it, or inline when the object is on one line."""
    opening = text.index("{")
    rest = text[opening + 1:]
    entry = f"{json.dumps(SCHEMA_KEY)}: {json.dumps(reference)}"
    empty = rest.strip() == "}" or rest.lstrip().startswith("}")
    newline = re.match(r"[ \t]*\r?\n([ \t]*)", rest)
    if newline is None:  # all on one line: {"web": {...}}
        return text[:opening + 1] + entry + ("" if empty else ", ") + rest
    indent = newline.group(1) if not empty else "  "
    line_end = "\r\n" if "\r\n" in newline.group(0) else "\n"
    return text[:opening + 1] + line_end + indent + entry + ("" if empty else ",") + rest


def _map_in_vscode(root: Path, config_name: str, reference: str, setup: Setup) -> None:
    path = root / VSCODE_SETTINGS
    mapping = {"fileMatch": [f"/{config_name}"], "url": reference}
    settings: Any = {}
    if path.exists():
        try:
            settings = json.loads(read_text(path, limit=_MAX_SETTINGS_BYTES, what="VS Code's settings"))
        except (json.JSONDecodeError, FileError):
            settings = None
        if not isinstance(settings, dict) or not isinstance(settings.get("json.schemas", []), list):
            setup.todo.append(f"{VSCODE_SETTINGS}: not plain JSON infra can merge into (comments?): left as it is; "
                              f"add to it: \"json.schemas\": [{json.dumps(mapping)}]")
            return
    schemas = settings.setdefault("json.schemas", [])
    if any(isinstance(item, dict) and item.get("url") == reference for item in schemas):
        setup.unchanged.append(VSCODE_SETTINGS)
        return
    schemas.append(mapping)
    path.parent.mkdir(exist_ok=True)
    atomic_write_text(path, json.dumps(settings, indent=4) + "\n")
    setup.written.append(VSCODE_SETTINGS)
