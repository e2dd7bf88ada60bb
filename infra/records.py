"""pydantic models made by the tens of thousands, lighter by one set each."""

from __future__ import annotations

from functools import cache
from typing import Any, Self, TypeVar

from pydantic import BaseModel


class ManyRecord(BaseModel):
    """A model made by the tens of thousands: a plan of 10,000 groups holds 60,000 resources and
    60,000 actions, its config 10,000 groups. pydantic gives each instance a set of the fields given
    to it (for `exclude_unset`, which infra never asks for), 200 to 700 bytes each: 80 MB in such a
    plan. These share one set of every field instead, as if each had been given all of them;
    assigning a field adds a name already there, and a copy gets a set of its own."""

    def model_post_init(self, context: Any, /) -> None:
        object.__setattr__(self, "__pydantic_fields_set__", _every_field(type(self)))

    @classmethod
    def made(cls, **fields: Any) -> Self:
        """An instance of values already of their types, every field given: what `model_construct`
        makes, without its work per field (defaults, aliases, the set of fields given), a third of
        its time. A plan of 10,000 groups makes 120,000 (observations and actions). Refused when a
        field is missing (and for a model with private attributes, which it would not set)."""
        return _record(cls, fields, "made")

    @classmethod
    def taking(cls, fields: dict[str, Any]) -> Self:
        """`made(**fields)` that takes `fields` itself as the instance's own (a dict read from JSON,
        let go of by its reader): no copy of it, and none of the garbage a copy leaves. The caller
        has checked every value's type."""
        return _record(cls, fields, "taking")


def _record(model: type[_Record], fields: dict[str, Any], method: str) -> _Record:
    """An instance of `model` whose own values are `fields` (every field, exactly; `method` names the
    caller in the error)."""
    every = _every_field(model)
    if fields.keys() != every:
        raise TypeError(f"{model.__name__}.{method} needs every field, exactly: {sorted(every ^ fields.keys())}")
    if model.__private_attributes__:
        raise TypeError(f"{model.__name__} has private attributes: make it with model_construct")
    made = model.__new__(model)
    _set(made, "__dict__", fields)
    _set(made, "__pydantic_fields_set__", every)
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made


_set = object.__setattr__
_Record = TypeVar("_Record", bound="ManyRecord")


@cache
def _every_field(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)
