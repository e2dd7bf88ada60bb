"""Where the registry keeps things in etcd: one key per (service, node).

    <root>/services/<service>/<node>   ->  {"group": ..., "address": ..., "state": "up" | "leaving"}

The service comes first because every reader asks "where does X run?": consumers read or
watch one prefix per service. A node's own entries (for notify and decommission) are found by
filtering the services range, which is small next to one etcd request. The root (default
`/infra`) lets several fleets or test runs share one etcd without seeing each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.errors import RegistryError

DEFAULT_ROOT = "/infra"
# Matched whole (fullmatch): `$` would take a final newline. A node id starts with a letter or digit,
# so it is a plain name: never `.` or `..`, which it would be as part of a file name.
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,252}")
SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]{1,200}")
ROOT = re.compile(r"(/[A-Za-z0-9_.-]+)+")


def check_node_id(node: str) -> str:
    """A node id becomes the last part of a key and of a file name: a plain name, no '/' or spaces."""
    if not NODE_ID.fullmatch(node):
        raise RegistryError(f"node id {node!r} can't be used as a registry key; use letters, digits and "
                            f"'.', '_', ':', '@', '-', starting with a letter or digit (an instance id or a hostname)")
    return node


def check_service_name(service: str) -> str:
    """A service name is a key part too; one the layout could not parse back would never be listed."""
    if not SERVICE_NAME.fullmatch(service):
        raise RegistryError(f"service name {service!r} can't be used as a registry key; use 1 to 200 letters, "
                            f"digits, '_' and '-' (the recipe of a *-service cookbook, e.g. api-workers)")
    return service


def check_root(root: str) -> str:
    root = root.rstrip("/") or "/"
    if not ROOT.fullmatch(root):
        raise RegistryError(f"registry prefix {root!r} must look like /infra or /infra/staging")
    return root


@dataclass(frozen=True)
class KeyLayout:
    """Builds and parses registry keys under one root."""

    root: str = DEFAULT_ROOT

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", check_root(self.root))

    @property
    def services_prefix(self) -> str:
        return f"{self.root}/services/"

    def service_prefix(self, service: str) -> str:
        return f"{self.services_prefix}{service}/"

    def entry_key(self, service: str, node: str) -> str:
        return f"{self.service_prefix(service)}{node}"

    def parse(self, key: str) -> tuple[str, str] | None:
        """(service, node) for an entry key; None for anything else under the root."""
        if not key.startswith(self.services_prefix):
            return None
        parts = key[len(self.services_prefix):].split("/")
        if len(parts) != 2 or not SERVICE_NAME.fullmatch(parts[0]) or not NODE_ID.fullmatch(parts[1]):
            return None
        return parts[0], parts[1]
