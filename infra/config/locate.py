"""Where in nodes.json a problem is: errors located by line and column, with the closest known name.

Every nodes.json error is one `ConfigError` naming the file, the line and column of the key at
fault, who it belongs to (a group, `__base__`, an environment) and what to do about it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import Any, get_origin

from pydantic import BaseModel, ValidationError

from infra import jsontext
from infra.config.fields import PARTIAL
from infra.errors import ConfigError

BASE_KEY = "__base__"
SETTINGS_KEY = "__settings__"
ENVIRONMENTS_KEY = "__environments__"
_LISTED = 10  # names listed in an error before "and N more"

Where = Callable[[list[Any]], list[Any]]  # the location of an error in a model -> the keys leading to it


def unknown(what: str, name: str, known: Any) -> str:
    """"unknown WHAT", with the closest known name, or the known names when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"unknown {what}; did you mean {close[0]!r}?"
    known = list(known)
    listed = ", ".join(repr(k) for k in known[:_LISTED])
    if len(known) > _LISTED:
        listed += f" and {len(known) - _LISTED} more"
    return f"unknown {what}; known: {listed}" if listed else f"unknown {what}"


def owner_label(owner: str) -> str:
    return "__settings__" if owner == SETTINGS_KEY else ("__base__" if owner == BASE_KEY else f"group {owner!r}")


class Locator:
    """Finds where in the text a group's key is written, to point errors at it."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path

    def position(self, keys: list[Any]) -> tuple[int | None, int | None]:
        return jsontext.key_position(self.text, keys)

    def error(self, keys: list[Any], message: str) -> ConfigError:
        line, column = self.position(keys)
        return ConfigError(message, path=self.path, line=line, column=column)

    def from_validation(self, exc: ValidationError, owner: str, raw: Any, merged: Any,
                        model: type[BaseModel], *, label: str | None = None, at: Where | None = None) -> ConfigError:
        return self.from_errors(exc.errors(), owner, raw, merged, model, label=label, at=at)

    def from_errors(self, errors: list[Any], owner: str, raw: Any, merged: Any, model: type[BaseModel],
                    *, label: str | None = None, at: Where | None = None) -> ConfigError:
        """The first of pydantic's `errors` in words, located: by `at` (the keys leading to it), else
        in the group's own text (`raw`) when the group writes the key itself, else in `__base__`."""
        error = errors[0]
        # [key]: the dict key itself; "name": pydantic's step into a model's own name (a key of nodes.json
        # named "name" is kept: the whole location is never dropped)
        loc = [part for part in error["loc"] if part not in ("name", "[key]")] or list(error["loc"])
        dotted = ".".join(str(part) for part in loc)
        what = label or owner_label(owner)
        if error["type"] == "extra_forbidden":
            message = f"{what}: {unknown(f'key {dotted!r}', str(loc[-1]), known_keys(model, loc[:-1]))}"
        elif error["type"] == "missing":
            message = (f"{what} has no {dotted!r}; set it in the group or in __base__")
        else:
            detail = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
            if error["msg"].startswith("Input should be "):
                detail = f"should be {detail}, got {_short(error.get('input'))}"
            message = f"{what}: key {dotted!r}: {detail}" if dotted else f"{what}: {detail}"
        if at is not None:
            return self.error(at(loc), message)
        in_raw = isinstance(raw, dict) and loc and loc[0] in raw
        keys = [owner, *loc] if in_raw or owner == BASE_KEY else ([BASE_KEY, *loc] if loc else [owner])
        return self.error(keys, message)

    def check_keys(self, raw: dict[str, Any], model: type[BaseModel], owner: str, *, label: str | None = None,
                   at: Where | None = None) -> None:
        """Validate the keys `raw` writes itself against `model` (missing ones are another's to give),
        so an error points at the one who wrote it. Checks across keys (node_min against node_max)
        wait for the merged group, which may take one from __base__ and the other from the group."""
        try:
            model.model_validate(raw, context={PARTIAL: True})
        except ValidationError as exc:
            real = [e for e in exc.errors() if e["type"] != "missing"]
            if real:
                raise self.from_errors(real, owner, raw, None, model, label=label, at=at) from None


def known_keys(model: type[BaseModel], loc: list[Any]) -> list[str]:
    """The keys of the model at `loc` (past the names and indices of mappings and lists of models:
    `scaling.target_tracking.cpu`, `steps.0`)."""
    within = False
    for part in loc:
        if within:  # the name or index of one item of a mapping or list
            within = False
            continue
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        given = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
        if get_origin(annotation) not in (dict, list) and len(given) == 1:  # Optional[list[Model]]: the list
            annotation = given[0]
        within = get_origin(annotation) in (dict, list)
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)
                      and issubclass(a, BaseModel)]
        if not candidates:
            return []
        model = candidates[0]
    return [name for name in model.model_fields if name != "name"]


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
