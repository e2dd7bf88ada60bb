"""References between resources: `${ami.web.image_id}` is the `image_id` output of `ami.web`.

A reference is a whole string value; resolving walks dicts and lists and replaces each one with
the output it names, or leaves it as it is when that output is not known yet.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

REFERENCE = re.compile(r"\$\{(?P<address>[a-z_]+\.[A-Za-z0-9_-]+)\.(?P<output>[a-z_]+)\}")


def ref(address: str, output: str) -> str:
    return f"${{{address}.{output}}}"


def parse_ref(value: Any) -> tuple[str, str] | None:
    if isinstance(value, str) and value.startswith("${"):  # cheap test first: most strings are plain
        match = REFERENCE.fullmatch(value)
        if match:
            return match["address"], match["output"]
    return None


def resolve(value: Any, lookup: Callable[[str, str], Any]) -> Any:
    """Replace every reference `lookup` knows (it returns None for unknown) with its value."""
    if isinstance(value, str):  # most values are plain strings: one test, then done
        target = parse_ref(value)
        if target is None:
            return value
        found = lookup(*target)
        return value if found is None else found
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    return value


def unresolved(value: Any) -> list[str]:
    """The references still in `value`."""
    if parse_ref(value) is not None:
        return [value]
    if isinstance(value, dict):
        return [r for item in value.values() for r in unresolved(item)]
    if isinstance(value, list):
        return [r for item in value for r in unresolved(item)]
    return []


def digest(value: Any) -> str:
    """A stable content hash of JSON-like data (key order does not matter)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
