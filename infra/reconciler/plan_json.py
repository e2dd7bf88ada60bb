"""The plan as a document: one versioned contract for `infra plan --output json` and `--out` files.

Both are the same JSON (docs/plan-json.md describes it, with a JSON Schema): the same action names,
the same structure, and `infra apply FILE` reads either back. Values known only after apply (an
AMI id a build will make) are null in `after` and marked in `after_unknown`, at the same place,
by the output they will come from (`"ami.web.image_id"`), as Terraform's `after_unknown` marks
them with `true`. Printed plans mask secret-looking values and say so (`masked`); such a document
cannot be applied, a saved one can.

`format_version` is MAJOR.MINOR: a minor version only adds (properties, which readers ignore when
they do not know them, and action names); a new major version changes what is there, and is
refused by readers of another. 2.1 added the action `promote` and the summary's `promote` count;
2.5 added each change's `op` and `index` (an item put into or taken out of a list); 2.6 the roll's
`steps` and the action's `roll_command`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra.errors import InfraError
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Plan
from infra.reconciler.refs import parse_ref, ref
from infra.reconciler.rolls import roll_of

FORMAT_VERSION = "2.6"
MAJOR = 2
# noop, create, update, replace, delete, build, adopt, refresh, promote
NAMES = {kind: kind.name.lower() for kind in ActionKind}
KINDS = {name: kind for kind, name in NAMES.items()}
LEADING = ("address", "kind", "group", "action", "reason", "depends_on", "protect", "protected", "hold", "held")

Mask = Callable[..., Any]  # (value, path="") -> the value with secrets replaced


class _Hider:
    """Applies a mask and remembers whether it hid anything."""

    def __init__(self, mask: Mask | None) -> None:
        self.mask, self.hid = mask, False

    def __call__(self, value: Any, path: str = "") -> Any:
        if self.mask is None:
            return value
        shown = self.mask(value, path)
        self.hid = self.hid or shown != value
        return shown


def plan_document(plan: Plan, *, mask: Mask | None = None) -> dict[str, Any]:
    """The plan as the documented JSON object; with `mask`, secret values replaced (for printing)."""
    hide = _Hider(mask)
    data = plan.model_dump(mode="json")
    actions = [{**_action(action, hide), "roll": _roll(model)}
               for action, model in zip(data.pop("actions"), plan.actions, strict=True)]
    # `masked` is known once every value went through the mask: put in its place after.
    document = {"format_version": FORMAT_VERSION, "masked": False, "has_changes": bool(plan.changes),
                "summary": plan.summary(), **data, "actions": actions}
    document["masked"] = hide.hid
    return document


def dump_plan(plan: Plan) -> str:
    """What `infra plan --out` saves: the document, unmasked, so that apply has every value."""
    return json.dumps(plan_document(plan), indent=2) + "\n"


def _action(action: dict[str, Any], hide: _Hider) -> dict[str, Any]:
    after = action["after"]
    document = {key: action[key] for key in LEADING}
    document.update(
        action=NAMES[ActionKind(action["action"])],
        before=None if action["before"] is None else hide(action["before"]),
        after=None if after is None else hide(known(after)),
        after_unknown=unknown(after) or {},
        changes=[{**change, "before": hide(change["before"], change["path"]),
                  "after": hide(known(change["after"]), change["path"]), "after_unknown": unknown(change["after"])}
                 for change in action["changes"]],
        outputs=hide(action["outputs"]),
    )
    return {**document, **{key: value for key, value in action.items() if key not in document}}


def _roll(action: Any) -> dict[str, Any] | None:
    roll = roll_of(action)
    return roll.document() if roll else None


def known(value: Any) -> Any:
    """`value` with every value not known until apply (a reference) as null."""
    if parse_ref(value) is not None:
        return None
    if isinstance(value, dict):
        return {key: known(item) for key, item in value.items()}
    if isinstance(value, list):
        return [known(item) for item in value]
    return value


def unknown(value: Any) -> Any:
    """Where `value` holds values not known until apply, shaped like it: each such value is the
    output it comes from (`ami.web.image_id`); None when everything is known. A list keeps its
    length, with false for the known items."""
    target = parse_ref(value)
    if target is not None:
        return ".".join(target)
    if isinstance(value, dict):
        marks = {key: unknown(item) for key, item in value.items()}
        return {key: mark for key, mark in marks.items() if mark} or None
    if isinstance(value, list):
        item_marks = [unknown(item) for item in value]
        return [mark or False for mark in item_marks] if any(item_marks) else None
    return None


def _restore(value: Any, marks: Any) -> Any:
    """The inverse of known/unknown: the references back where the marks are."""
    if isinstance(marks, str):
        address, _, output = marks.rpartition(".")
        return ref(address, output)
    if isinstance(marks, dict) and isinstance(value, dict):
        return {key: _restore(item, marks.get(key)) for key, item in value.items()}
    if isinstance(marks, list) and isinstance(value, list):
        return [_restore(item, mark) if mark else item for item, mark in zip(value, marks, strict=False)]
    return value


def read_plan(text: str, source: str) -> Plan:
    """A plan from its document (a saved plan, or JSON printed without secrets); one-line errors."""
    def refuse(why: str) -> InfraError:
        return InfraError(f"{source}: {why}")

    try:
        data = json.loads(text)
    except ValueError as exc:  # not JSON, or not text
        raise refuse(f"not a plan file made by infra plan --out ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "actions" not in data or ("format_version" not in data and "format" not in data):
        raise refuse("not a plan file made by infra plan --out (no format_version and actions)")
    version = str(data.get("format_version", data.get("format")))
    major = version.split(".")[0]
    if not major.isdigit() or int(major) != MAJOR:
        newer = major.isdigit() and int(major) > MAJOR
        raise refuse(f"plan format {version} is {'newer than' if newer else 'not one'} this infra understands "
                     f"({FORMAT_VERSION}); {'apply it with the infra that made it, or ' if newer else ''}"
                     f"plan again with infra plan --out")
    if data.get("masked"):
        raise refuse("its secret values are masked (printed by infra plan --output json); save a plan to apply "
                     "with infra plan --out FILE")
    try:
        actions = [_read_action(action) for action in data["actions"]]
        return Plan.model_validate({**data, "actions": actions})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise refuse(f"not a plan file made by infra plan --out ({str(exc).splitlines()[0]})") from None


def _read_action(action: dict[str, Any]) -> dict[str, Any]:
    if action.get("action") not in KINDS:
        raise ValueError(f"unknown action {action.get('action')!r} of {action.get('address')}; "
                         f"expected one of {', '.join(KINDS)}")
    return {**action, "action": KINDS[action["action"]].value,
            "after": _restore(action.get("after"), action.get("after_unknown")),
            "changes": [{**change, "after": _restore(change.get("after"), change.get("after_unknown"))}
                        for change in action.get("changes", [])]}
