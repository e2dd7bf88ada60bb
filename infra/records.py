"""pydantic models made by the tens of thousands, lighter by one set each."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel


class ManyRecord(BaseModel):
    """A model made by the tens of thousands: a plan of 10,000 groups holds 60,000 resources and
    60,000 actions, its config 10,000 groups. pydantic gives each instance a set of the fields given
    to it (for `exclude_unset`, which infra never asks for), 200 to 700 bytes each: 80 MB in such a
    plan. These share one set of every field instead, as if each had been given all of them;
    assigning a field adds a name already there, and a copy gets a set of its own."""

    def model_post_init(self, context: Any, /) -> None:
        object.__setattr__(self, "__pydantic_fields_set__", _every_field(type(self)))


@cache
def _every_field(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)
