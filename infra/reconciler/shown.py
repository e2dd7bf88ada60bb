"""A value as a plan shows it: JSON, secrets masked, values unknown until apply said so, cut short.

A text plan shows the first hundred characters of each value. Masking a whole value (a Packer
template, a role document) and encoding all of it to keep its first line took most of the text
report of a large plan; `opening` masks and writes only as far as it is shown, and leaves what it
cannot write the same way (a reference, a key that is not a string, a type JSON does not know) to
the whole walk, so the text is the same either way.
"""

from __future__ import annotations

import re
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]  # C; json.encoder's
from typing import Any

from infra.reconciler.refs import parse_ref
from infra.redact import (
    MASK,
    MASKED_KEY,
    is_secret_key,
    masked,
    masked_text,
    path_keys,
    untouched,
    written_key,
    written_keys,
)

UNKNOWN = "(known after apply)"
MAX_VALUE = 100  # characters of a value a text plan shows
# json.dumps(value, default=str) by the C encoder json.dumps makes for each value, made once: making
# it was a third of the time of a value of a few keys (a Markdown plan writes 360,000 of them whole).
# Without json.dumps's check for cycles (markers None): values are trees, read from JSON or made so.
_C_ENCODE = c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", False, False, True)


def _encode(value: Any) -> str:
    """`json.dumps(value, default=str)`."""
    return encode_basestring_ascii(value) if type(value) is str else "".join(_C_ENCODE(value, 0))


_SHOWN_MASK = encode_basestring_ascii(MASK)
_REFERENCE = re.compile(r'"\$\{[a-z_]+\.[A-Za-z0-9_.-]+\}"')


def show_value(value: Any, path: str = "", limit: int | None = MAX_VALUE) -> str:
    """A value as a plan shows it: JSON, secrets masked, unknown ones said so, cut at `limit` (None: whole)."""
    if limit is not None:
        text = opening(value, path, limit)
        if text is not None:
            return text
    value = masked(value, path)
    if parse_ref(value) is not None:
        return UNKNOWN
    text = _encode(value)
    if "${" in text:
        for reference in _REFERENCE.findall(text):
            text = text.replace(reference, UNKNOWN)
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


class _Unusual(Exception):
    """The value holds what the short walk leaves to the whole one."""


class _Enough(Exception):
    """More than is shown has been written."""


class _Opening:
    """The JSON of a masked value, written piece by piece until it is longer than `limit`."""

    __slots__ = ("limit", "pieces", "size")

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.pieces: list[str] = []

    def add(self, piece: str) -> None:
        self.pieces.append(piece)
        self.size += len(piece)
        if self.size > self.limit:
            raise _Enough

    def walk(self, value: Any, parent: str) -> None:
        """What json.dumps writes of `masked(value)` (under the key `parent`); a string that holds
        `${`, which may be a reference, is unusual: references are shown as unknown."""
        kind = type(value)
        if kind is str:
            if not untouched(value):
                value = masked_text(value)
            if "${" in value:
                raise _Unusual
            self.add(encode_basestring_ascii(value))
        elif kind is dict:
            if not value:
                self.add("{}")
                return
            between = "{"
            keys = written_keys(parent)
            for key, item in value.items():
                written = keys.get(key)
                if written is None:
                    if type(key) is not str:
                        raise _Unusual
                    written = written_key(keys, key, parent)
                if "${" in key:  # the whole walk shows it
                    raise _Unusual
                piece = between + written
                between = ", "
                if written[-1] == MASKED_KEY:
                    self.add(piece[:-1] + _SHOWN_MASK)
                elif type(item) is str and "$" not in item and untouched(item):
                    self.add(piece + encode_basestring_ascii(item))  # most values: with their key, in one piece
                else:
                    self.add(piece)
                    self.walk(item, key)
            self.add("}")
        elif kind is list:
            if not value:
                self.add("[]")
                return
            between = "["
            for item in value:
                if type(item) is str and "$" not in item and untouched(item):
                    self.add(between + encode_basestring_ascii(item))
                else:
                    self.add(between)
                    self.walk(item, parent)
                between = ", "
            self.add("]")
        elif value is None:
            self.add("null")
        elif value is True:
            self.add("true")
        elif value is False:
            self.add("false")
        elif kind is int:
            self.add(int.__repr__(value))
        elif kind is float:
            self.add(_encode(value))
        else:
            raise _Unusual


def opening(value: Any, path: str, limit: int) -> str | None:
    """`show_value(value, path, limit)` written only as far as it is shown; None when the value
    holds what only the whole walk shows as it should (a reference, a key that is not a string)."""
    key, parent = path_keys(path)
    if key and is_secret_key(key, parent):
        return _SHOWN_MASK
    kind = type(value)
    if kind is str and "${" not in value and untouched(value):  # most values: one string
        return _cut(encode_basestring_ascii(value), limit)
    if kind is str and parse_ref(value) is not None:  # a reference: no '@' or '=' in it to mask
        return _cut(UNKNOWN, limit)
    if kind is int:
        return _cut(int.__repr__(value), limit)  # as json writes an int
    if value is None:
        return "null"
    written = _Opening(limit)
    try:
        written.walk(value, key)
    except _Enough:
        return "".join(written.pieces)[:limit - 3] + "..."
    except _Unusual:
        return None
    return "".join(written.pieces)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
