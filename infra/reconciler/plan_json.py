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
from collections.abc import Callable, Iterator
from typing import Any

from infra.errors import InfraError
from infra.jsondump import dumps_indented
from infra.reconciler.action_json import ActionText
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Plan
from infra.reconciler.refs import known, parse_ref, ref, unknown
from infra.reconciler.rolls import roll_of
from infra.redact import MASK, is_secret_key, masked_text, path_keys, untouched

FORMAT_VERSION = "2.6"
MAJOR = 2
# noop, create, update, replace, delete, build, adopt, refresh, promote
NAMES = {kind: kind.name.lower() for kind in ActionKind}
KINDS = {name: kind for kind, name in NAMES.items()}
LEADING = ("address", "kind", "group", "action", "reason", "depends_on", "protect", "protected", "hold", "held")

Mask = Callable[..., Any]  # (value, path="") -> the value with secrets replaced


class _Shown:
    """What the document shows of a value, in one walk: with a mask, values under secret-looking
    keys and URL passwords masked (remembering whether anything was: `hid`); references (values
    not known until apply) as null, remembering whether there were any (`refs`), so that
    `unknown` walks only the values that hold some. Masking and nulling every value in walks of
    their own, and comparing to see what was masked, took most of the time of a large plan's JSON."""

    def __init__(self, mask: Mask | None) -> None:
        self.masking, self.hid, self.refs = mask is not None, False, False

    def __call__(self, value: Any, path: str = "", *, nulled: bool = True) -> Any:
        if not self.masking and not nulled:
            return value
        key, parent = path_keys(path)
        if self.masking and key and is_secret_key(key, parent):
            return self._secret(value, nulled)
        return self._walk(value, key, nulled)

    def _walk(self, value: Any, parent: str, nulled: bool) -> Any:
        kind = type(value)
        if kind is str:
            if nulled and value.startswith("${") and parse_ref(value) is not None:
                self.refs = True
                return None
            if self.masking and not untouched(value):
                shown = masked_text(value)
                self.hid = self.hid or shown != value
                return shown
            return value
        if kind is dict:  # the same dict when nothing in it is shown otherwise, as most are not
            copied = None
            for key, item in value.items():
                name = key if type(key) is str else str(key)
                if self.masking and is_secret_key(name, parent):
                    shown = self._secret(item, nulled)
                elif type(item) is str and not item.startswith("${") and untouched(item):
                    continue  # a plain string, as most are: shown as it is, not walked
                else:
                    shown = self._walk(item, name, nulled)
                if shown is not item:
                    if copied is None:
                        copied = dict(value)
                    copied[key] = shown
            return value if copied is None else copied
        if kind is list:
            items = None
            for index, item in enumerate(value):
                shown = self._walk(item, parent, nulled)
                if shown is not item:
                    if items is None:
                        items = list(value)
                    items[index] = shown
            return value if items is None else items
        return value

    def _secret(self, value: Any, nulled: bool) -> str:
        self.refs = self.refs or (nulled and unknown(value) is not None)
        self.hid = self.hid or (known(value) if nulled else value) != MASK
        return MASK


def plan_document(plan: Plan, *, mask: Mask | None = None) -> dict[str, Any]:
    """The plan as the documented JSON object; with `mask` (redact.masked, the mask there is,
    which the walk applies inline), secret values replaced (for printing)."""
    shown = _Shown(mask)
    actions = [_shown_action(model, shown) for model in plan.actions]
    return _head(plan) | {"actions": actions, "masked": shown.hid}


def document_text(plan: Plan, *, mask: Mask | None = None) -> str:
    """`plan_document` as JSON indented by two spaces."""
    return "\n".join(document_lines(plan, mask=mask))


def document_lines(plan: Plan, *, mask: Mask | None = None) -> Iterator[str]:
    """`document_text` in lines (an action's lines at a time), to print as they come: each action is
    written as soon as it is shown, and let go of (a plan of 10,000 groups is 60,000 actions, 82 MB
    of text), and a printed plan is never joined into one more copy of itself. `masked` comes last:
    it is known once every value went through the mask."""
    shown = _Shown(mask)
    written = ActionText(masking=mask is not None)  # the same text, in one walk of the action's values
    head = dumps_indented(_head(plan))
    last = len(plan.actions) - 1
    yield head[:-2] + ',\n  "actions": [' + ("" if plan.actions else "],")
    for index, model in enumerate(plan.actions):
        text = written.text(model)
        if text is None:  # a value of a type other than JSON's own: as pydantic dumps it
            text = dumps_indented(_shown_action(model, shown), level=2)
        yield "    " + text + ("," if index < last else "")
    if plan.actions:
        yield "  ],"
    yield f'  "masked": {"true" if shown.hid or written.hid else "false"}'
    yield "}"


def _head(plan: Plan) -> dict[str, Any]:
    """The document's properties before `actions`."""
    return {"format_version": FORMAT_VERSION, "has_changes": bool(plan.changes), "summary": plan.summary(),
            **plan.model_dump(mode="json", exclude={"actions"})}


def _shown_action(model: Any, shown: _Shown) -> dict[str, Any]:
    """An action's document the long way. A field added to it (or to `_action`) must be added to
    action_json.ActionText too, which writes the same text in one walk: the hypothesis test in
    tests/unit/test_plan_json.py compares the two and fails until it is."""
    return {**_action(model.model_dump(mode="json"), shown), "roll": _roll(model)}


def dump_plan(plan: Plan) -> str:
    """What `infra plan --out` saves: the document, unmasked, so that apply has every value."""
    return document_text(plan) + "\n"


def _action(action: dict[str, Any], shown: _Shown) -> dict[str, Any]:
    after = action["after"]
    document = {key: action[key] for key in LEADING}
    document.update(
        action=NAMES[ActionKind(action["action"])],
        before=None if action["before"] is None else shown(action["before"], nulled=False),
        after=None if after is None else _after(after, shown),
        after_unknown=(unknown(after) if after is not None and shown.refs else None) or {},
        changes=[_change(change, shown) for change in action["changes"]],
        outputs=shown(action["outputs"], nulled=False),
    )
    return {**document, **{key: value for key, value in action.items() if key not in document}}


def _after(value: Any, shown: _Shown, path: str = "") -> Any:
    shown.refs = False
    return shown(value, path)


def _change(change: dict[str, Any], shown: _Shown) -> dict[str, Any]:
    before = shown(change["before"], change["path"], nulled=False)
    after = _after(change["after"], shown, change["path"])
    return {**change, "before": before, "after": after,
            "after_unknown": unknown(change["after"]) if shown.refs else None}


def _roll(action: Any) -> dict[str, Any] | None:
    roll = roll_of(action)
    return roll.document() if roll else None


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
