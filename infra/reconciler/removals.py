"""What a deletion (or the old half of a replacement) removes, named, from what was observed.

A reviewer should not have to know that `- ami.web` deregisters every AMI of the group and
deletes their snapshots, or that `- asg.web` ends its instances: the plan says which. The
providers observe what this needs (`before`): an AMI's `images`, an ASG's `name` and
`instances`, an instance's `id` and `dna` file, a launch template's `name` and `id`, a file's
`path`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action

MAX_LISTED = 50  # instance ids named in one line; more are counted


def removed(action: Action) -> list[str]:
    """One line per thing `action` removes; none when it removes nothing (or nothing is known)."""
    if action.action not in (ActionKind.DELETE, ActionKind.REPLACE) or not action.before:
        return []
    describe = _DESCRIBE.get(action.kind, _generic)
    return [line for line in describe(action.before) if line]


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


def _snapshots(snapshots: list[str]) -> str:
    return f" and its snapshot(s) {', '.join(snapshots)}" if snapshots else " (no snapshots)"


def _amis(before: dict[str, Any]) -> list[str]:
    return [f"AMI {image['id']}" + (f" ({image['name']})" if image.get("name") else "")
            + _snapshots(image.get("snapshots") or []) for image in before.get("images") or []]


def _asg(before: dict[str, Any]) -> list[str]:
    instances = before.get("instances")
    if instances is None:
        return [f"autoscaling group {before.get('name', '?')}"]
    ended = f"its {len(instances)} instance(s): {_listed(instances)}" if instances else "no instances"
    return [f"autoscaling group {before.get('name', '?')} and {ended}"]


def _instance(before: dict[str, Any]) -> list[str]:
    where = ", ".join(str(v) for v in (before.get("state"), before.get("zone")) if v)
    return [f"instance {before.get('id', '?')}" + (f" ({where})" if where else ""),
            f"file {before['dna']}" if before.get("dna") else ""]


def _launch_template(before: dict[str, Any]) -> list[str]:
    return [f"launch template {before.get('name', '?')} ({before.get('id', '?')}) and all its versions"]


def _build_leftover(before: dict[str, Any]) -> list[str]:
    instance = before.get("instance")
    return [*(f"unfinished {line}" for line in _amis(before)),
            f"build instance {instance} ({before.get('state')})" if instance else "",
            *(f"temporary security group {group}" for group in before.get("security_groups") or []),
            f"temporary key pair {before['key_pair']}" if before.get("key_pair") else ""]


def _generic(before: dict[str, Any]) -> list[str]:
    if before.get("path"):
        return [f"file {before['path']}"]
    named = before.get("id") or before.get("name")
    return [str(named)] if named else []


_DESCRIBE: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "ami": _amis, "asg": _asg, "instance": _instance, "launch_template": _launch_template,
    "build_leftover": _build_leftover,
}
