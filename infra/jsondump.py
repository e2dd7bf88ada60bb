"""JSON indented by two spaces, written fast: `json.dumps(value, indent=2)`, byte for byte.

Python's json module writes indented JSON with its pure-Python encoder (its C encoder only writes
compact JSON), a chain of generators that yields every brace, comma and key on its own. A plan of
10,000 groups is an 80 MB document, and that encoder took most of `infra plan --output json`. This
one walks the value once, appending each key with its punctuation and indentation as one piece,
and leaves strings and numbers to the C functions the json module uses for them. Pieces are joined
every `CHUNK` of them: ten million small strings held at once took more memory than the document.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]  # C; in json.encoder's API
from typing import Any

_SCALAR = json.JSONEncoder(check_circular=False).encode  # numbers: repr as json.dumps writes them
CHUNK = 16384  # pieces joined into one string at a time


class _Out:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.chunks: list[str] = []

    def flush(self) -> None:
        self.chunks.append("".join(self.parts))
        self.parts.clear()  # the same list: `add` stays bound to it


def dumps_indented(value: Any, level: int = 0) -> str:
    """`json.dumps(value, indent=2)`: ASCII, `", "`-free separators, keys in their order; written
    as it would be `level` levels deep in a larger document (its inner lines indented that much more)."""
    out = _Out()
    _write(value, "\n" + "  " * level, out.parts.append, out)
    out.flush()
    return "".join(out.chunks)


def _write(value: Any, pad: str, add: Any, out: _Out) -> None:
    kind = type(value)
    if kind is str:
        add(encode_basestring_ascii(value))
    elif kind is dict:
        if not value:
            add("{}")
            return
        inner = pad + "  "
        opening = "{" + inner
        between = "," + inner
        first = True
        for key, item in value.items():
            add((opening if first else between) + encode_basestring_ascii(key if type(key) is str else _key(key))
                + ": ")
            first = False
            _write(item, inner, add, out)
            if len(out.parts) > CHUNK:
                out.flush()
        add(pad + "}")
    elif kind is list or kind is tuple:
        if not value:
            add("[]")
            return
        inner = pad + "  "
        add("[" + inner)
        first = True
        for item in value:
            if not first:
                add("," + inner)
            first = False
            _write(item, inner, add, out)
            if len(out.parts) > CHUNK:
                out.flush()
        add(pad + "]")
    elif value is None:
        add("null")
    elif value is True:
        add("true")
    elif value is False:
        add("false")
    elif kind is int or kind is float:
        add(_SCALAR(value))
    else:  # a subclass of str, dict, list, int, ...: as json.dumps writes it, or its TypeError
        add(json.dumps(value, indent=2).replace("\n", pad))


def _key(key: Any) -> str:
    """A key that is not a string, as json.dumps writes it: `1`, `1.5`, `true`, `null`."""
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return json.dumps(key)
    if isinstance(key, int | float):
        return _SCALAR(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
