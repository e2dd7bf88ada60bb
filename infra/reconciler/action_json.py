"""One action of the plan document (docs/plan-json.md) as indented JSON, written in one walk.

plan_json.py makes each action's document by dumping the action (pydantic copies every value),
walking the copy to mask secrets and null references (a second copy of what changed), then
indenting it (jsondump.py): three walks of every value, and two thirds of the time of
`infra plan --output json` at 10,000 groups. `ActionText` writes the same text while it walks
the action's own values once, masking and nulling as it goes.

It writes what holds only JSON's own types (str, int, finite float, bool, None, dict with string
keys, list): a value of any other type, which pydantic writes its own way (a tuple, an enum, a
date, NaN), makes `text` return None, and the caller writes that action the long way.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]  # C; in json.encoder's API
from math import isfinite
from typing import Any

from infra.jsondump import dumps_indented
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action, AttributeChange
from infra.reconciler.refs import known, parse_ref, unknown
from infra.reconciler.rolls import roll_of
from infra.redact import MASK, MASKED_KEY, is_secret_key, masked_text, path_keys, untouched, written_key, written_keys

_SHOWN_MASK = encode_basestring_ascii(MASK)
_ACTION = "\n      "  # the indentation of an action's keys (the action is at level 2: in `actions`)
_CHANGE = "\n          "  # of a change's keys (level 4: in the action's `changes`)


class _Unusual(Exception):
    """The action holds what only the long way writes as the document has it."""


class ActionText:
    """Writes actions' documents; `hid` says whether it masked anything (the document's `masked`)."""

    __slots__ = ("hid", "masking", "parts")

    def __init__(self, *, masking: bool) -> None:
        self.masking, self.hid = masking, False
        self.parts: list[str] = []

    def text(self, action: Action) -> str | None:
        """The action's document as `json.dumps(document, indent=2)` writes it two levels deep in the
        plan's; None when it holds a type of value other than JSON's own."""
        hid = self.hid
        self.parts = []
        try:
            self._action(action)
        except _Unusual:
            self.hid = hid  # the long way sees the same values, and says so again
            return None
        return "".join(self.parts)

    def _action(self, action: Action) -> None:
        kind = action.action
        plain = (action.address, action.kind, action.group, action.reason, action.held, action.roll_command)
        if (type(kind) is not ActionKind or set(map(type, plain)) != _STR
                or type(action.protect) is not bool or type(action.hold) is not bool):
            raise _Unusual
        add = self.parts.append
        add(f'{{{_ACTION}"address": {encode_basestring_ascii(action.address)},{_ACTION}"kind": '
            f'{encode_basestring_ascii(action.kind)},{_ACTION}"group": {encode_basestring_ascii(action.group)},'
            f'{_ACTION}"action": "{kind.name.lower()}",{_ACTION}"reason": {encode_basestring_ascii(action.reason)},'
            f'{_ACTION}"depends_on": ')
        depends_on = action.depends_on
        if type(depends_on) is not list or any(type(address) is not str for address in depends_on):
            raise _Unusual
        add("[" + _ACTION + "  " + ("," + _ACTION + "  ").join(map(encode_basestring_ascii, depends_on)) + _ACTION + "]"
            if depends_on else "[]")
        add(f',{_ACTION}"protect": {_BOOL[action.protect]},{_ACTION}"protected": '
            f'{_BOOL[action.protect and kind.destroys]},{_ACTION}"hold": {_BOOL[action.hold]},'
            f'{_ACTION}"held": {encode_basestring_ascii(action.held)},{_ACTION}"before": ')
        self._top(action.before, _ACTION, nulled=False)
        add("," + _ACTION + '"after": ')
        after = action.after
        marks = self._top(after, _ACTION, nulled=True) or {}  # unknown(after), found on the way
        add("," + _ACTION + '"after_unknown": ' + (dumps_indented(marks, level=3) if marks else "{}") + "," + _ACTION
            + '"changes": ')
        changes = action.changes
        if type(changes) is not list:
            raise _Unusual
        if not changes:
            add("[]")
        between = "[" + _ACTION + "  "
        for change in changes:
            add(between)
            between = "," + _ACTION + "  "
            self._change(change)
        if changes:
            add(_ACTION + "]")
        add("," + _ACTION + '"outputs": ')
        self._top(action.outputs, _ACTION, nulled=False, optional=False)
        roll = roll_of(action)
        add("," + _ACTION + '"roll_command": ' + encode_basestring_ascii(action.roll_command) + "," + _ACTION
            + '"roll": ' + ("null" if roll is None else dumps_indented(roll.document(), level=3)) + "\n    }")

    def _top(self, value: Any, pad: str, *, nulled: bool, optional: bool = True) -> Any:
        """An action's `before`, `after` or `outputs` (a dict; None when `optional`): what _value returns."""
        if value is None and optional:
            self.parts.append("null")
            return None
        if type(value) is dict:
            return self._value(value, pad, "", nulled)
        raise _Unusual

    def _change(self, change: AttributeChange) -> None:
        path, index = change.path, change.index
        if (type(change) is not AttributeChange or type(path) is not str or type(change.op) is not str
                or type(change.before_absent) is not bool or type(change.after_absent) is not bool
                or not (index is None or type(index) is int)):
            raise _Unusual
        add = self.parts.append
        key, parent = path_keys(path) if self.masking else ("", "")
        secret = bool(key) and is_secret_key(key, parent)
        add("{" + _CHANGE + '"path": ' + encode_basestring_ascii(path) + "," + _CHANGE + '"before": ')
        if secret:
            add(self._secret(change.before, nulled=False))
        else:
            self._value(change.before, _CHANGE, key, False)
        add("," + _CHANGE + '"after": ')
        if secret:
            add(self._secret(change.after, nulled=True))
            marks = unknown(change.after)
        else:
            marks = self._value(change.after, _CHANGE, key, True)
        add("," + _CHANGE + '"before_absent": ' + _BOOL[change.before_absent] + "," + _CHANGE + '"after_absent": '
            + _BOOL[change.after_absent] + "," + _CHANGE + '"op": ' + encode_basestring_ascii(change.op) + ","
            + _CHANGE + '"index": ' + ("null" if index is None else int.__repr__(index)) + "," + _CHANGE
            + '"after_unknown": ' + dumps_indented(marks, level=5) + "\n        }")

    def _string(self, value: str, nulled: bool) -> str:
        """A string as shown: a reference null (when `nulled`), URL passwords and secret
        assignments masked (when masking)."""
        if nulled and value.startswith("${") and parse_ref(value) is not None:
            return "null"
        if self.masking and not untouched(value):
            shown = masked_text(value)
            if shown != value:
                self.hid = True
            return encode_basestring_ascii(shown)
        return encode_basestring_ascii(value)

    def _secret(self, value: Any, *, nulled: bool) -> str:
        """A value under a secret-looking key: the mark; whether it was there to mask, as plan_json's
        walk records it."""
        _check(value)
        if (known(value) if nulled else value) != MASK:
            self.hid = True
        return _SHOWN_MASK

    def _value(self, value: Any, pad: str, parent: str, nulled: bool) -> Any:
        """Writes `value` (under the key `parent`) as shown, its closing brace at `pad`; returns
        `unknown(value)` when `nulled` (where it holds references), found on the way."""
        add = self.parts.append
        kind = type(value)
        if kind is dict:
            if not value:
                add("{}")
                return None
            inner = pad + "  "
            between, after_one = "{" + inner, "," + inner
            masking = self.masking
            keys = written_keys(parent, masking)
            marks: Any = None
            for key, item in value.items():
                written = keys.get(key)
                if written is None:
                    if type(key) is not str:
                        raise _Unusual
                    written = written_key(keys, key, parent, masking)
                item_kind = type(item)
                if item_kind is str and "$" not in item and "@" not in item and "=" not in item \
                        and written[-1] != MASKED_KEY:  # most values: a plain string (untouched(), inline)
                    add(f"{between}{written}{encode_basestring_ascii(item)}")
                    between = after_one
                    continue
                head = between + written
                between = after_one
                if written[-1] == MASKED_KEY:
                    add(head[:-1] + self._secret(item, nulled=nulled))
                    mark = unknown(item) if nulled else None
                elif item_kind is str:
                    shown = self._string(item, nulled)
                    add(head + shown)
                    mark = _reference(item) if shown == "null" else None
                elif item_kind is bool or item is None:
                    add(head + _BOOL[item])
                    continue
                elif item_kind is int:
                    add(head + int.__repr__(item))
                    continue
                else:
                    add(head)
                    mark = self._value(item, inner, key, nulled)
                if mark:
                    if marks is None:
                        marks = {}
                    marks[key] = mark
            add(pad + "}")
            return marks
        if kind is list:
            if not value:
                add("[]")
                return None
            inner = pad + "  "
            between, after_one = "[" + inner, "," + inner
            marks = None
            for index, item in enumerate(value):
                if type(item) is str:
                    if "$" not in item and "@" not in item and "=" not in item:  # untouched(), inline
                        add(between + encode_basestring_ascii(item))
                        between = after_one
                        continue
                    shown = self._string(item, nulled)
                    add(between + shown)
                    mark = _reference(item) if shown == "null" else None
                else:
                    add(between)
                    mark = self._value(item, inner, parent, nulled)
                between = after_one
                if mark:
                    if marks is None:
                        marks = [False] * len(value)
                    marks[index] = mark
            add(pad + "]")
            return marks
        if kind is str:
            shown = self._string(value, nulled)
            add(shown)
            return _reference(value) if shown == "null" else None
        if kind is bool or value is None:
            add(_BOOL[value])
        elif kind is int:
            add(int.__repr__(value))
        elif kind is float and isfinite(value):
            add(float.__repr__(value))
        else:
            raise _Unusual
        return None


def _reference(value: str) -> str:
    """The output a reference (a string the walk showed as null) comes from: `ami.web.image_id`."""
    return ".".join(parse_ref(value) or ())


_BOOL = {True: "true", False: "false", None: "null"}
_STR = {str}


def _check(value: Any) -> None:
    """Raise _Unusual unless `value` holds only JSON's own types (as pydantic dumps it, unchanged)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            _check(item)
    elif kind is list:
        for item in value:
            _check(item)
    elif not (kind in (str, int, bool) or value is None or (kind is float and isfinite(value))):
        raise _Unusual
