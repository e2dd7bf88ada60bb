"""Chef's view of a group: normalised run lists, the role document, dna files and services.

Pure functions only; writing these documents to disk is the files provider's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# Matched whole (fullmatch): `$` would take "recipe[a]\n".
RUN_LIST_ITEM = re.compile(r"(?:(recipe|role)\[([^\[\]\s]+)\]"
                           r"|([A-Za-z0-9_\-]+(?:::[A-Za-z0-9_\-]+)?(?:@[0-9A-Za-z_.]+)?))")
RECIPE = re.compile(r"(?P<cookbook>[A-Za-z0-9_\-]+)(?:::(?P<recipe>[A-Za-z0-9_\-]+))?(?P<version>@[0-9A-Za-z_.]+)?")

# A service's name becomes a registry key, an haproxy backend and ACL name and a Host header value:
# letters, digits, '_', '-', starting with a letter or digit (haproxy reads a leading '-' as an option).
SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")


def is_valid_run_list_item(item: str) -> bool:
    return bool(RUN_LIST_ITEM.fullmatch(item))


@lru_cache(maxsize=4096)  # the run lists of 10,000 groups share most of their items
def normalize_run_list_item(item: str) -> str:
    """Chef's normal form: `recipe[x]` and bare `x` become `recipe[x::default]`."""
    match = RUN_LIST_ITEM.fullmatch(item)
    if not match:
        raise ValueError(f"not a run-list item: {item!r} (expected recipe[cookbook::recipe] or role[name])")
    kind, name, bare = match.groups()
    if bare is not None:
        kind, name = "recipe", bare
    if kind == "role":
        return f"role[{name}]"
    recipe = RECIPE.fullmatch(name)
    if not recipe:
        return f"recipe[{name}]"
    return f"recipe[{recipe['cookbook']}::{recipe['recipe'] or 'default'}{recipe['version'] or ''}]"


def normalize_run_list(items: Iterable[str]) -> list[str]:
    """Normalise every item and drop repeats, keeping the first, as Chef does."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(normalize_run_list_item(item), None)
    return list(seen)


def role_name(group: str) -> str:
    return f"role-{group}"


def role_document(group: str, description: str, default_attributes: dict[str, Any],
                  override_attributes: dict[str, Any], run_list: list[str]) -> dict[str, Any]:
    """The Chef role JSON for a group, key for key the seed's example."""
    return {
        "name": role_name(group),
        "chef_type": "role",
        "json_class": "Chef::Role",
        "description": description,
        "override_attributes": override_attributes,
        "default_attributes": default_attributes,
        "run_list": run_list,
    }


def dna_document(node_id: str, group: str) -> dict[str, Any]:
    """chef-solo attributes that run the group's role on one node (or a whole ASG)."""
    return {"id": node_id, "run_list": [f"role[{role_name(group)}]"]}


def services_in_run_list(run_list: Iterable[str], cookbook: str | None = None) -> list[str]:
    """The services a run list provides: its recipes from a `*-service` cookbook.

    `recipe[seatgeek-service::api-workers]` is the service `api-workers`. With `cookbook` given,
    only that cookbook counts.
    """
    services: list[str] = []
    for item in run_list:
        service = _service(item, cookbook)
        if service and service not in services:
            services.append(service)
    return services


@lru_cache(maxsize=4096)
def _service(item: str, cookbook: str | None) -> str | None:
    """The service a run-list item provides (see services_in_run_list), if any."""
    if not item.startswith("recipe["):
        return None
    recipe = RECIPE.fullmatch(item[len("recipe["):-1])
    if not recipe:
        return None
    book = recipe["cookbook"]
    wanted = book == cookbook if cookbook else book.endswith("-service")
    return recipe["recipe"] if wanted and recipe["recipe"] and recipe["recipe"] != "default" else None
