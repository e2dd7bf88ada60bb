"""`--exclude GROUP|ADDRESS`: plan everything except some resources and what depends on them. Pure.

The resources named (an address, or every resource of a group) are left out, and so is
everything that depends on them, directly or through others: an excluded AMI takes its group's
launch template and ASG with it, and an excluded group the groups built from its AMI
(`"source_ami": "@group"`). What the plan would delete goes whole or not at all per group: an ASG
left standing would keep using the launch template deleted beside it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from infra.errors import InfraError
from infra.reconciler.graph import Graph
from infra.reconciler.resources import split_address
from infra.state.model import State


def unknown_names(names: Iterable[str], addresses: Iterable[str]) -> list[str]:
    """The names that are neither an address nor a group of any of `addresses`."""
    addresses = set(addresses)
    groups = {split_address(address)[1] for address in addresses}
    return [name for name in names if name not in addresses and name not in groups]


def check_names(names: Iterable[str], addresses: Iterable[str]) -> None:
    """A name that matches none of `addresses` is an error, with a suggestion: a typo would
    otherwise plan (and apply) what was meant to be left out."""
    addresses = set(addresses)
    unknown = unknown_names(sorted(names), addresses)
    if unknown:
        known = sorted(addresses | {split_address(address)[1] for address in addresses})
        close = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InfraError(f"--exclude {unknown[0]}: no group or address of that name in this plan (nodes.json, the "
                         f"state, what exists){hint}")


def left_out(names: Iterable[str], desired: Graph, state: State, addresses: Iterable[str]) -> set[str]:
    """The addresses among `addresses` (desired, recorded or found) a plan leaves out for `names`."""
    names = set(names)
    addresses = set(addresses)
    dependants: dict[str, set[str]] = {}
    for address in addresses:
        for dependency in _dependencies(address, desired, state):
            dependants.setdefault(dependency, set()).add(address)
    unwanted_of: dict[str, set[str]] = {}
    for address in addresses - set(desired.resources):
        unwanted_of.setdefault(split_address(address)[1], set()).add(address)
    excluded: set[str] = set()
    stack = [a for a in addresses if a in names or split_address(a)[1] in names]
    while stack:
        address = stack.pop()
        if address in excluded:
            continue
        excluded.add(address)
        stack.extend(dependants.get(address, ()))
        if address not in desired:
            stack.extend(unwanted_of.get(split_address(address)[1], ()))
    return excluded


def _dependencies(address: str, desired: Graph, state: State) -> tuple[str, ...]:
    if address in desired:
        return desired[address].depends_on
    recorded = state.resources.get(address)
    return tuple(recorded.depends_on) if recorded is not None else ()
