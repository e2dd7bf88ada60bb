"""JSON that infra reads from files it does not control: parsed without surprises, and only
values infra can write back.

Python's json module takes more than JSON: `NaN` and `Infinity` (and `1e999`, which becomes
infinity), lone UTF-16 surrogates (`"\\ud800"`, which no UTF-8 file can hold), and nesting as
deep as the parser's recursion allows. Each of these would be read without a word and fail
later, when the value is written (a Chef role with invalid JSON, a state that can never be
saved). So they are refused here, with the keys that lead to them, so the caller can point at
the line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from itertools import chain
from typing import Any

# Levels of objects and lists in what infra writes (state, roles, templates, plans): room for the
# deepest value nodes.json may hold (config/loader.py) under a resource's attributes, and shallow
# enough to compare and write.
MAX_DEPTH = 100
# Python refuses to turn longer digit strings into ints (a guard against slow conversions).
INT_DIGITS = 4300
_LONG_NUMBER = re.compile(rf"-?[0-9]{{{INT_DIGITS + 1},}}")

Keys = list[Any]  # object keys (str) and list indexes (int) from the top down to a value


class JsonProblem(ValueError):
    """What is wrong with a JSON text (`message`), what its author can do (`hint`), and where:
    `line`/`column` when known, else the `keys` to the value."""

    def __init__(self, message: str, hint: str, *, line: int | None = None, column: int | None = None,
                 keys: Keys | None = None) -> None:
        super().__init__(message)
        self.message, self.hint, self.line, self.column, self.keys = message, hint, line, column, keys or []

    def at(self, path: str) -> str:
        """`path:line:column`, or `path: at a.b[2]`: where in the file at `path` the problem is."""
        if self.line:
            return f"{path}:{self.line}:{self.column}"
        return f"{path}: at {dotted(self.keys)}" if self.keys else path


def loads(text: str, *, max_depth: int = MAX_DEPTH,
          object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """`json.loads`, and `check`: every failure is a JsonProblem (a JSONDecodeError from the hook
    or the parser is left as it is, for callers that give hints about it).

    What `check` looks for is mostly visible in the text, and looked for there (a state of 10,000
    groups is 70 MB and millions of values): NaN and the infinities are the parser's constants or
    floats (it calls a hook for each), a lone surrogate is an escape from \\ud800 to \\udfff or a
    surrogate character; only the depth is a walk, of the containers alone. A text that may hold a
    problem gets `check`'s walk, which names the keys to it."""
    if text.startswith("\ufeff"):  # json.loads's own error about it (a decoder's would say "Expecting value")
        return json.loads(text)
    try:
        document = (_CHECKING if object_pairs_hook is None else _checking(object_pairs_hook)).decode(text)
    except json.JSONDecodeError:
        raise
    except _Unwritable:  # read it as it is: `check` names the value
        document = json.loads(text, object_pairs_hook=object_pairs_hook)
        check(document, max_depth=max_depth)
        raise AssertionError("check passed a NaN or an infinity") from None
    except RecursionError:
        raise JsonProblem(f"is nested too deeply (more than {max_depth} levels)", _FLATTEN) from None
    except ValueError as exc:  # a number too long to convert: the only ValueError json.loads raises itself
        if "digits" not in str(exc):
            raise
        long = _LONG_NUMBER.search(text)
        line, column = line_column(text, long.start()) if long else (None, None)
        raise JsonProblem(f"a number has more than {INT_DIGITS} digits", "no count or size infra knows is that large",
                          line=line, column=column) from None
    if _may_hold_surrogate(text) or (_openings(text) >= max_depth and not _shallow(document, max_depth)):
        check(document, max_depth=max_depth)
    return document


class _Unwritable(ValueError):
    """A NaN or an infinity met while parsing (raised from the parser's hooks)."""


def _unwritable(constant: str) -> Any:
    raise _Unwritable(constant)


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):  # 1e999
        raise _Unwritable(number)
    return value


def _checking(object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> json.JSONDecoder:
    return json.JSONDecoder(object_pairs_hook=object_pairs_hook, parse_constant=_unwritable, parse_float=_finite)


_CHECKING = _checking()  # made once: json.loads with hooks makes a decoder per call


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _may_hold_surrogate(text: str) -> bool:
    """An escape of a UTF-16 surrogate, or one itself (a str decoded with surrogateescape): a pair
    may be fine (a character outside the BMP, escaped), a lone one is not; `check` tells which."""
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return True
    return not _is_text(text)


def _openings(text: str) -> int:
    """How many objects and lists a JSON text could open, at most: more than its depth can be."""
    return text.count("{") + text.count("[")


def _shallow(document: Any, max_depth: int) -> bool:
    """No deeper than `max_depth` levels of objects and lists: one level at a time, its values
    gathered and its containers picked out by C loops (a 10,000-group state holds 520,000 objects
    and lists, 1.3 million other values), never one value at a time in Python."""
    objects = [document] if isinstance(document, dict) else []
    lists = [document] if isinstance(document, list) else []
    depth = 0
    while objects or lists:
        if depth >= max_depth:
            return False
        values = list(chain(chain.from_iterable(map(dict.values, objects)), chain.from_iterable(lists)))
        objects, lists = list(filter(_is_object, values)), list(filter(_is_list, values))
        depth += 1
    return True


_is_object, _is_list = dict.__instancecheck__, list.__instancecheck__


def check(document: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonProblem, with the keys to it, for the first value infra could not write back as
    JSON: a lone surrogate, NaN or an infinity, or nesting deeper than `max_depth`."""
    if _fine(document, max_depth):
        return
    keys, (message, hint) = _first_problem(document, max_depth)
    raise JsonProblem(message, hint, keys=keys)


def _fine(document: Any, max_depth: int) -> bool:
    """The quick look every document gets (a state of thousands of resources too): no keys kept,
    only containers on the stack."""
    stack = [(document, 0)] if type(document) in (dict, list) else []
    if not stack:
        return _scalar_problem(document) is None
    while stack:
        container, depth = stack.pop()
        if depth >= max_depth:
            return False
        if type(container) is dict:
            if not "".join(container).isascii() and not all(_is_text(key) for key in container):
                return False
            values = container.values()
        else:
            values = container
        for value in values:
            kind = type(value)
            if kind is dict or kind is list:
                stack.append((value, depth + 1))
            elif (kind is str and not value.isascii()) or kind is float:
                if _scalar_problem(value) is not None:
                    return False
    return True


def _first_problem(document: Any, max_depth: int) -> tuple[Keys, tuple[str, str]]:
    """The first problem in file order, with the keys to it: walked only when there is one."""
    stack: list[tuple[Any, int, Keys]] = [(document, 0, [])]
    while stack:
        value, depth, keys = stack.pop()
        if type(value) not in (dict, list):
            problem = _scalar_problem(value)
            if problem is not None:
                return keys, problem
            continue
        if depth >= max_depth:
            return keys, (f"is nested more than {max_depth} levels deep", _FLATTEN)
        items = list(value.items()) if type(value) is dict else list(enumerate(value))
        for key, item in reversed(items):  # reversed onto the stack: walked in file order
            if isinstance(key, str) and not _is_text(key):
                return [*keys, key], _SURROGATE
            stack.append((item, depth + 1, [*keys, key]))
    raise AssertionError("_first_problem called on a document without one")


def _scalar_problem(value: Any) -> tuple[str, str] | None:
    if type(value) is str and not _is_text(value):
        return _SURROGATE
    if type(value) is float and not math.isfinite(value):
        what = "NaN" if math.isnan(value) else "Infinity (or a number as large as 1e999)"
        return f"is {what}, which is not a JSON number", "write a number, or a string"
    return None


_SURROGATE = ("holds a lone UTF-16 surrogate (an escape from \\ud800 to \\udfff without its pair), which UTF-8 "
              "cannot hold", "write the character itself, or both halves of its escape")
_FLATTEN = "flatten it"


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def dotted(keys: Keys, at_most: int = 6) -> str:
    """`a.b[2].c`; a long path is shortened in the middle."""
    parts = [f"[{k}]" if isinstance(k, int) else ("." if i else "") + str(k) for i, k in enumerate(keys)]
    if len(parts) > at_most:
        parts = [*parts[:at_most // 2], f".<{len(parts) - at_most} more>", *parts[-(at_most // 2):]]
    return "".join(parts)


def line_column(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def key_position(text: str, keys: Keys) -> tuple[int | None, int | None]:
    """(line, column) where the value at `keys` (object keys from the top down) is written, as
    far down as the keys can be found; (None, None) when not even the first is."""
    pos, found = 0, None
    for key in keys:
        if not isinstance(key, str):
            break
        match = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, pos)
        if not match:
            break
        found, pos = match.start(), match.end()  # the next key is further on, even one of the same name
    return line_column(text, found) if found is not None else (None, None)
