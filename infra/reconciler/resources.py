"""Resources: one thing a group needs, with a stable address and the addresses it depends on."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infra.records import ManyRecord


class Resource(ManyRecord):
    """A desired resource. `attributes` may hold references (`${ami.web.image_id}`) to outputs
    of the resources it depends on; they are resolved when those outputs are known."""

    model_config = ConfigDict(frozen=True)

    kind: str
    group: str
    name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    protect: bool = False

    @cached_property
    def address(self) -> str:
        """Asked for hundreds of thousands of times in a plan of 10,000 groups: made once. (A frozen
        model: its fields cannot change under it; pydantic compares and dumps fields only.)"""
        return address_of(self.kind, self.group, self.name)


class Observed(ManyRecord):
    """What a provider found: attributes comparable with the desired ones, and outputs
    (ids, versions) that other resources refer to."""

    attributes: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    # An artifact built by digest (an AMI) is observed as its newest one; `earlier` holds the newest
    # of each other digest it was once built from, so going back to earlier inputs reuses one. A live
    # ASG's holds the old one its roll kept warm (rollout.keep_previous), by its leftover address (kept.py).
    earlier: dict[str, Observed] = Field(default_factory=dict)

    @classmethod
    def of(cls, attributes: dict[str, Any], outputs: dict[str, Any] | None = None) -> Observed:
        """What a provider built from AWS's answers or a file, as it is: not validated (and copied)
        again. A plan of 10,000 groups makes 60,000 of them."""
        return cls.made(attributes=attributes, outputs={} if outputs is None else outputs, earlier={})

    def built_from(self, digest: str, key: str = "source_hash") -> Observed:
        """This one, or the earlier one built from `digest` when this one was built from other inputs
        (`key`: the attribute that holds the digest; `earlier` is by source hash)."""
        if self.attributes.get(key) == digest:
            return self
        if key == "source_hash":
            return self.earlier.get(digest, self)
        return next((other for other in self.earlier.values() if other.attributes.get(key) == digest), self)


class Unowned(BaseModel):
    """Something that is not this project's: made by infra for another project (`owner` is its
    name), or before infra tagged an owner (`owner` is ""; `observed` then says what it is, so it
    can be adopted), or made without infra and named like one of this project's (`importable`:
    the `infra import` options that would adopt it). Never changed or deleted; a plan says it is there."""

    address: str
    owner: str
    description: str  # what it is, for people: "autoscaling group web-1a2b3c4d in us-east-1"
    observed: Observed | None = None
    importable: str = ""  # made without infra: `--asg web`, to say how to import it

    @property
    def untagged(self) -> bool:
        return not self.owner


@dataclass
class Observation:
    """What the providers found: this project's resources by address, and the others that matter
    to it (look-alikes of its own resources, and what was made before owner tags)."""

    found: dict[str, Observed] = field(default_factory=dict)
    unowned: list[Unowned] = field(default_factory=list)
    # What a plan reads but does not manage, by the address it is read for: the AMI another
    # environment built that a promoted `ami.<group>` would copy.
    sources: dict[str, Observed] = field(default_factory=dict)

    def add(self, other: Observation) -> None:
        self.found.update(other.found)
        self.unowned.extend(other.unowned)
        self.sources.update(other.sources)


def address_of(kind: str, group: str, name: str | None = None) -> str:
    """`kind.group`, or `kind.group.name` for one of several of a kind (one-off instances)."""
    return f"{kind}.{group}" if name is None else f"{kind}.{group}.{name}"


def split_address(address: str) -> tuple[str, str, str | None]:
    kind, _, rest = address.partition(".")
    group, _, name = rest.partition(".")
    return kind, group, name or None
