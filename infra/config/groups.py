"""nodes.json's groups after inheriting: `__base__` merged into each, validated, cross-checked.

The same for nodes.json as written and for each of its environments, which overlay it (an
`Overlay`: the environment's settings over `__base__`, its `groups` over each group); errors point
at whoever wrote the key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from infra.config.chef import SERVICE_NAME
from infra.config.locate import BASE_KEY, ENVIRONMENTS_KEY, Locator, Where, unknown
from infra.config.merge import merge_group
from infra.config.models import Group, GroupSettings, check_group_name


@dataclass(frozen=True)
class Overlay:
    """An environment's changes to nodes.json: `base` is merged over `__base__` (a group that sets a
    key itself keeps its own value) and `groups[name]` over that group, with the seed's rules."""

    name: str
    base: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"environment {self.name!r}"

    def keys(self, *more: Any) -> list[Any]:
        """The keys leading to `more` inside this environment's entry."""
        return [ENVIRONMENTS_KEY, self.name, *more]

    def at(self, group: str, raw: dict[str, Any]) -> Where:
        """Where a problem of the merged `group` was written: the environment's override of the
        group, the environment's own settings, the group, or `__base__`."""
        def keys(loc: list[Any]) -> list[Any]:
            first = loc[0] if loc else None
            if first in self.groups.get(group, {}):
                return self.keys("groups", group, *loc)
            if first in self.base:
                return self.keys(*loc)
            return [group, *loc] if first in raw or first is None else [BASE_KEY, *loc]
        return keys


def build_groups(base: dict[str, Any], raw_groups: dict[str, Any], locator: Locator,
                 overlay: Overlay | None = None) -> dict[str, Group]:
    """Every group merged and validated (in file order), then checked against the others."""
    if overlay is not None:
        base = merge_group(base, overlay.base)
    groups: dict[str, Group] = {}
    for name, raw in raw_groups.items():
        if overlay is None:  # an environment's groups are these, checked once
            _check_raw(name, raw, locator)
        own = merge_group(raw, overlay.groups[name]) if overlay is not None and name in overlay.groups else raw
        merged = merge_group(base, own)
        try:
            groups[name] = Group.model_validate({**merged, "name": name})
        except ValidationError as exc:
            if overlay is None:
                locator.check_keys(raw, GroupSettings, name)  # a key the group writes itself: pointed at there
                raise locator.from_validation(exc, name, raw, merged, GroupSettings) from None
            raise locator.from_validation(exc, name, raw, merged, GroupSettings,
                                          label=f"{overlay.label}: group {name!r}", at=overlay.at(name, raw)) from None
    check_references(groups, locator, f"{overlay.label}: " if overlay is not None else "")
    return groups


def _check_raw(name: str, raw: Any, locator: Locator) -> None:
    """A group's name, and that it is an object. The keys it writes itself are checked on their own
    (so that an error points at the group) only when the merged group is refused: a key refused in
    the group is refused merged too, as merging keeps every key and list item the group writes (and
    only checks across keys wait for the merged group); a `name` alone is not, as the merged group
    is given its name. Checking every group's keys twice was a sixth of reading nodes.json."""
    try:
        check_group_name(name)
    except ValueError as exc:
        raise locator.error([name], str(exc)) from None
    if not isinstance(raw, dict):
        raise locator.error([name], f"group {name!r} must be an object of settings, not {type(raw).__name__}")
    if "name" in raw:
        locator.check_keys(raw, GroupSettings, name)


def check_references(groups: dict[str, Group], locator: Locator, label: str = "") -> None:
    """`@group` sources exist, are in the same region, build an AMI and form no cycle; every
    service a group depends on is provided. `label` says which environment is checked."""
    for name, group in groups.items():
        source = group.source_group
        if source is not None and source not in groups:
            raise locator.error([name, "source_ami"], f"{label}group {name!r}: source_ami @{source}: "
                                                      + unknown(f"group {source!r}", source, groups))
        if source is not None and groups[source].region != group.region:
            raise locator.error([name, "source_ami"], f"{label}group {name!r}: source_ami @{source}: group "
                                                      f"{source!r} builds in {groups[source].region}, {name!r} in "
                                                      f"{group.region}; an AMI is used in its own region only, so "
                                                      f"put both in one")
        if source is not None and not groups[source].packer:
            raise locator.error([name, "source_ami"], f"{label}group {name!r}: source_ami @{source}: group {source!r} "
                                                      f"has \"packer\": false, so it has no AMI to build from; name "
                                                      f"an AMI id, or let {source!r} build one")
    _check_cycles(groups, locator)
    for name, group in groups.items():
        for service in group.services:
            if not SERVICE_NAME.fullmatch(service):
                raise locator.error([name, "run_list"], f"{label}group {name!r}: service {service!r} (a recipe of a "
                                                        f"*-service cookbook) must start with a letter or digit, "
                                                        f"then letters, digits, '_' and '-': it names a registry "
                                                        f"key and an haproxy backend")
    provided = {service for group in groups.values() for service in group.services}
    for name, group in groups.items():
        for service in group.depends_on:
            if service not in provided:
                known = ", ".join(sorted(provided)) or "none"
                raise locator.error([name, "depends_on"], f"{label}group {name!r} depends_on {service!r}, which no "
                                                          f"group's run list provides (services: {known})")


def _check_cycles(groups: dict[str, Group], locator: Locator) -> None:
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
