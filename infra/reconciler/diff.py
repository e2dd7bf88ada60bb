"""Attribute diffs, cheap when nothing changed: equality first, deepdiff only on a difference."""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff

from infra.reconciler.plan import AttributeChange

_MISSING = "(absent)"


def attribute_changes(before: dict[str, Any], after: dict[str, Any]) -> list[AttributeChange]:
    """What differs between two attribute sets, one entry per changed leaf, in a stable order.

    Only keys of `after` count: a provider may observe more than infra manages.
    """
    changes: list[AttributeChange] = []
    for key, wanted in after.items():
        found = before.get(key, _MISSING)
        if found == wanted:
            continue
        if isinstance(found, (dict, list)) and isinstance(wanted, type(found)):
            changes.extend(_deep(key, found, wanted))
        else:
            changes.append(AttributeChange(path=key, before=None if found is _MISSING else found, after=wanted,
                                           before_absent=found is _MISSING))
    return changes


def _deep(key: str, before: Any, after: Any) -> list[AttributeChange]:
    diff = DeepDiff(before, after, view="tree", ignore_order=False)
    changes = []
    for report in diff.values():
        for level in report:
            path = key + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in level.path(output_format="list"))
            changes.append(AttributeChange(path=path, before=_value(level.t1), after=_value(level.t2),
                                           before_absent=_absent(level.t1), after_absent=_absent(level.t2)))
    return sorted(changes, key=lambda c: c.path)


def _absent(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"


def _value(value: Any) -> Any:
    return None if _absent(value) else value


def managed_part(found: Any, wanted: Any, recorded: Any = None) -> Any:
    """Of a found mapping (an AMI's tags), the keys infra manages: those wanted now or applied
    before. Keys something else added (a backup tool's tag) are not infra's to compare or remove."""
    if not isinstance(found, dict) or not isinstance(wanted, dict):
        return found
    managed = set(wanted) | (set(recorded) if isinstance(recorded, dict) else set())
    return {key: value for key, value in found.items() if key in managed}
