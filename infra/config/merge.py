"""The seed's inheritance rules, as one pure function.

Every group inherits from `__base__`: lists append (base first), dicts merge one level deep (the
group's keys win and a nested value is replaced whole), and any other value is the group's.
"""

from __future__ import annotations

from typing import Any


def merge_value(base: Any, override: Any) -> Any:
    """Combine one key's value from `__base__` with the group's value for the same key."""
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **override}
    return override


def merge_group(base: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
    """The group as it reads after inheriting from `base`; neither input is changed."""
    merged = dict(base)
    for key, value in group.items():
        merged[key] = merge_value(base[key], value) if key in base else value
    return merged
