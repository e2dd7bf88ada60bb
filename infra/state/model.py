"""The state file's model: plain data, no behaviour that touches the world."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError

from infra import jsontext
from infra.errors import StateError
from infra.jsontext import JsonProblem
from infra.records import ManyRecord
from infra.shared_texts import shared_text

# 2: the state names the project that applied it (`owner`); an infra of format 1 knows no owners and
# would take other projects' resources for its own orphans, so it must refuse this file.
STATE_FORMAT = 2
_ADDRESS = TypeAdapter(str)  # writes an address as pydantic writes a key


class ResourceState(ManyRecord):
    """One resource as last applied. Never changed in place: a new one replaces it (so the state can
    keep each one's JSON text between writes)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    group: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    # Marked `protect` in nodes.json when last applied: deleting it with its group needs --allow-destroy.
    protect: bool = False
    # When the apply made it in AWS (UTC, ISO 8601, to the second); none for files, or when made before
    # infra recorded it (and then not written). A plan that does not find it yet waits a while for AWS
    # to show something made this recently (providers/aws/unlisted.py) instead of making it again.
    made_at: str | None = Field(default=None, exclude_if=lambda value: value is None)


_RECORD_KEYS = ("kind", "group", "attributes", "outputs", "depends_on", "protect")
_MADE_KEYS = (*_RECORD_KEYS, "made_at")


def _as_written(record: Any) -> bool:
    """Whether `record` is a resource as infra writes it: every field, in infra's order (it is written
    back in the order it holds), each of its own type, and `made_at` a text or left out (then put in,
    as None: what pydantic would read)."""
    if type(record) is not dict:
        return False
    keys = tuple(record)
    if keys == _MADE_KEYS:
        if type(record["made_at"]) is not str:
            return False
    elif keys != _RECORD_KEYS:
        return False
    # Each field's type, tested in one expression (a generator over the fields cost more than the tests).
    if not (type(record["kind"]) is str and type(record["group"]) is str and type(record["attributes"]) is dict
            and type(record["outputs"]) is dict and type(record["depends_on"]) is list
            and type(record["protect"]) is bool and all(type(name) is str for name in record["depends_on"])):
        return False
    record.setdefault("made_at", None)
    record["kind"], record["group"] = shared_text(record["kind"]), shared_text(record["group"])  # 60,000 of each
    return True


class _Texts(dict):
    """Each resource's JSON text as last written, by address, with the resource it was made from.
    Not part of the state's value: two states holding the same resources are equal whatever they kept."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Texts)

    __hash__ = None  # type: ignore[assignment]


class State(BaseModel):
    format: int = STATE_FORMAT
    lineage: str = ""  # given on the first write; the same for every later version of this state
    serial: int = 0
    owner: str = ""  # the project that applied it (see docs/state.md, Ownership); "" before format 2
    resources: dict[str, ResourceState] = Field(default_factory=dict)
    _texts: _Texts = PrivateAttr(default_factory=lambda: _Texts())  # see to_json

    def next_version(self) -> None:
        """Mark a new version to write: a higher serial, and a lineage from the first one."""
        self.serial += 1
        if not self.lineage:
            self.lineage = str(uuid.uuid4())

    def hold(self, address: str, attributes: dict[str, Any], field: str = "attributes") -> None:
        """Hold `attributes` (or another `field`: the outputs) for the resource at `address` instead
        of its own, which they equal as JSON (a copy made elsewhere: the desired graph's, what was
        observed), so that one copy stays in memory. Set in place, though resources are frozen: the
        resource's value and JSON text stay what they were (a new resource per call cost 60,000 model
        constructions in a plan of 10,000 groups)."""
        object.__setattr__(self.resources[address], field, attributes)

    @classmethod
    def _as_read(cls, data: dict[str, Any]) -> State | None:
        """The state `data` holds, its resources taken as they were read when each is exactly what
        infra writes (every field, each of its type): no validated copy of 60,000 resources'
        containers (a third of a second, and their garbage scattered through the memory that stays in
        use). None when anything is otherwise (an older state, a damaged one): pydantic reads it then,
        and says what is wrong."""
        resources = data.get("resources", {})
        if type(resources) is not dict or not all(map(_as_written, resources.values())):
            return None
        state = cls.model_validate({key: value for key, value in data.items() if key != "resources"})
        state.resources = {address: ResourceState.taking(record) for address, record in resources.items()}
        return state

    def to_json(self) -> str:
        """The state file's text: `model_dump_json(indent=2)`, byte for byte, but each resource is
        serialised once and its text kept until it is replaced. An apply writes the whole state after
        each batch of finished actions (making 1,000 groups, 600 times, up to 4.5 MB), and serialising
        every resource each time held the interpreter for 15 ms of every write."""
        head = self.model_dump_json(indent=2, exclude={"resources"})
        if not self.resources:
            return head[:-2] + ',\n  "resources": {}\n}\n'
        kept, texts = self._texts, _Texts()
        for address, resource in self.resources.items():
            text = kept.get(address)
            if text is None or text[0] is not resource:
                text = (resource, f"    {_ADDRESS.dump_json(address).decode()}: "
                                  + resource.model_dump_json(indent=2).replace("\n", "\n    "))
            texts[address] = text
        self._texts = texts
        body = ",\n".join(text for _, text in texts.values())
        return f'{head[:-2]},\n  "resources": {{\n{body}\n  }}\n}}\n'

    @classmethod
    def from_json(cls, text: str, where: str) -> State:
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
            return cls._as_read(data) or cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where_in = ".".join(str(p) for p in first["loc"])
            raise StateError(f"{where}: state is damaged at {where_in}: {first['msg']}; "
                             f"restore it from {where}.backup") from None
