"""Attribute diffs, cheap when nothing changed: equality first, deepdiff only on a difference.

Equal means equal as JSON: Python's `1 == True == 1.0` would take a Chef attribute changed from
`1` to `true` (or `1.0`) for no change, though the file written and what Chef reads differ.
"""

from __future__ import annotations

import re
from typing import Any

from infra.reconciler.plan import AttributeChange, ListOp

_MISSING = "(absent)"


def attribute_changes(before: dict[str, Any], after: dict[str, Any]) -> list[AttributeChange]:
    """What differs between two attribute sets, one entry per changed leaf, in a stable order.

    Only keys of `after` count: a provider may observe more than infra manages.
    """
    changes: list[AttributeChange] = []
    for key, wanted in after.items():
        found = before.get(key, _MISSING)
        if same(found, wanted):
            continue
        if isinstance(found, (dict, list)) and isinstance(wanted, type(found)):
            changes.extend(_deep(key, found, wanted))
        else:
            changes.append(AttributeChange(path=key, before=None if found is _MISSING else found, after=wanted,
                                           before_absent=found is _MISSING))
    return changes


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values: `==`, with a boolean never equal to a number, nor an integer to a float."""
    return a is b or (a == b and _same_types(a, b))


def _same_types(a: Any, b: Any) -> bool:
    """Of two equal values, whether every value in one has the type of its counterpart in the other
    (equal containers hold the same keys and lengths; strings are equal only to strings)."""
    stack = [(a, b)]
    pop, push = stack.pop, stack.append
    while stack:
        x, y = pop()
        kind = type(x)
        if kind is not type(y):
            return False
        if kind is dict:
            for key, value in x.items():
                other = y[key]
                if value is not other and type(value) is not str:
                    push((value, other))
        elif kind is list:
            for value, other in zip(x, y, strict=True):  # equal lists: equal lengths
                if value is not other and type(value) is not str:
                    push((value, other))
    return True


# deepdiff's reports of an item put into or taken out of a list (it aligns the two lists as
# difflib does, so the items after it are no change of their own).
_LIST_OPS: dict[str, ListOp] = {"iterable_item_added": "insert", "iterable_item_removed": "remove"}


def _deep(key: str, before: Any, after: Any) -> list[AttributeChange]:
    # Imported when something changed: a plan of nothing but creates never needs it (25 ms of start-up).
    from deepdiff import DeepDiff  # noqa: PLC0415

    diff = DeepDiff(before, after, view="tree", ignore_order=False)
    changes = []
    for report_type, report in diff.items():
        op = _LIST_OPS.get(report_type, "change")
        for level in report:
            steps = level.path(output_format="list")
            if op == "insert":  # where it is in the new list, not where it would be in the old one
                steps = level.path(output_format="list", use_t2=True)
            path = key + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in steps)
            changes.append(AttributeChange(path=path, before=_value(level.t1), after=_value(level.t2),
                                           before_absent=_absent(level.t1), after_absent=_absent(level.t2),
                                           op=op, index=steps[-1] if op != "change" else None))
    return sorted(changes, key=lambda c: _in_order(c.path))


def _in_order(path: str) -> list[Any]:
    """A path's sort key: list indexes as numbers, so `run_list[10]` comes after `run_list[9]`."""
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"\[(\d+)\]", path))]


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
