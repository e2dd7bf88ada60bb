"""The state file's model: plain data, no behaviour that touches the world."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from infra import jsontext
from infra.errors import StateError
from infra.jsontext import JsonProblem

# 2: the state names the project that applied it (`owner`); an infra of format 1 knows no owners and
# would take other projects' resources for its own orphans, so it must refuse this file.
STATE_FORMAT = 2


class ResourceState(BaseModel):
    kind: str
    group: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    # Marked `protect` in nodes.json when last applied: deleting it with its group needs --allow-destroy.
    protect: bool = False


class State(BaseModel):
    format: int = STATE_FORMAT
    lineage: str = ""  # given on the first write; the same for every later version of this state
    serial: int = 0
    owner: str = ""  # the project that applied it (see docs/state.md, Ownership); "" before format 2
    resources: dict[str, ResourceState] = Field(default_factory=dict)

    def next_version(self) -> None:
        """Mark a new version to write: a higher serial, and a lineage from the first one."""
        self.serial += 1
        if not self.lineage:
            self.lineage = str(uuid.uuid4())

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> "State":
        try:
            data = jsontext.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(f"{where}:{exc.lineno}:{exc.colno}: state is not valid JSON ({exc.msg}); "
                             f"restore it from {where}.backup or your backend's history") from None
        except JsonProblem as exc:
            raise StateError(f"{exc.at(where)}: {exc.message}: the state is damaged; restore it from {where}.backup "
                             f"or your backend's history") from None
        if not isinstance(data, dict):
            raise StateError(f"{where}: state must be a JSON object; restore it from {where}.backup")
        found = data.get("format", STATE_FORMAT)
        if type(found) is not int:  # "2" or 999.0 would pass for a format, and lose what a newer one holds
            raise StateError(f"{where}: state format {json.dumps(found)[:20]} is not a format number infra "
                             f"writes; restore it from {where}.backup or your backend's history")
        if found > STATE_FORMAT:
            raise StateError(f"{where}: state format {found} is newer than this infra understands "
                             f"({STATE_FORMAT}); upgrade infra")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where_in = ".".join(str(p) for p in first["loc"])
            raise StateError(f"{where}: state is damaged at {where_in}: {first['msg']}; "
                             f"restore it from {where}.backup") from None
