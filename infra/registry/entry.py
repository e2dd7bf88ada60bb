"""One registry entry: node N runs service S at ADDRESS, and whether it is staying or leaving.

An entry is the value under `<root>/services/<service>/<node>`. Values are small JSON objects
so a human with `etcdctl get --prefix /infra` can read them, and so fields can be added later
without breaking older readers (unknown fields are ignored).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from infra.errors import RegistryError

LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z){LABEL}(\.{LABEL})*")  # fullmatch, like every name check
IPV6 = re.compile(r"[0-9A-Fa-f:.]+")


class State(str, Enum):
    """`leaving` is announced before an entry is removed, so consumers can stop using it first."""

    up = "up"
    leaving = "leaving"


@dataclass(frozen=True)
class Address:
    """HOST[:PORT] as a node announces it; IPv6 hosts are written in brackets: [::1]:8080."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Address:
        text = text.strip()
        host, port = text, None
        if text.startswith("["):
            end = text.find("]")
            if end == -1 or not IPV6.fullmatch(text[1:end]):
                raise _bad_address(text)
            host, rest = text[1:end], text[end + 1:]
            if rest:
                if not rest.startswith(":"):
                    raise _bad_address(text)
                port = _port(rest[1:], text)
        elif text.count(":") == 1:
            host, raw_port = text.split(":")
            port = _port(raw_port, text)
        if not host or (not text.startswith("[") and not HOSTNAME.fullmatch(host)):
            raise _bad_address(text)
        unusable = unusable_host(host)
        if unusable:
            raise RegistryError(f"address {text!r}: {host} is {unusable}; give the address consumers reach this "
                                f"node at")
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def unusable_host(host: str) -> str | None:
    """Why requests cannot be sent to `host`, or None: an IP address must be one (not `::`, `0.0.0.0`,
    a multicast one), and digits and dots must make an IPv4 address (else haproxy would look the
    text up as a name)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if ":" in host:
            return "not an IPv6 address"
        if all(label.isdigit() for label in host.split(".")):
            return "not an IPv4 address"
        return None
    if ip.is_unspecified:
        return "an unspecified address (any interface), not one to send requests to"
    if ip.is_multicast:
        return "a multicast address"
    return None


def _port(text: str, whole: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise RegistryError(f"address {whole!r}: port must be a number from 1 to 65535")
    return int(text)


def _bad_address(text: str) -> RegistryError:
    return RegistryError(f"address {text!r} is not HOST[:PORT] (e.g. 10.0.1.5:8080, web-1.internal, [fd00::5]:80)")


@dataclass(frozen=True)
class Entry:
    """Node `node` of group `group` runs `service` at `address`; `lease` is 0 when it never expires."""

    service: str
    node: str
    group: str
    address: Address
    state: State = State.up
    lease: int = 0

    @property
    def is_up(self) -> bool:
        return self.state is State.up

    def leaving(self) -> Entry:
        return replace(self, state=State.leaving)

    def value(self) -> str:
        """The JSON stored in etcd. The lease is etcd metadata, not part of the value."""
        return json.dumps({"group": self.group, "address": str(self.address), "state": self.state.value},
                          sort_keys=True)

    @classmethod
    def from_value(cls, service: str, node: str, value: str | bytes, lease: int = 0) -> Entry:
        try:
            data = json.loads(value)
            return cls(service=service, node=node, group=str(data.get("group", "")),
                       address=Address.parse(str(data["address"])), state=State(data.get("state", "up")),
                       lease=lease)
        except (ValueError, KeyError, TypeError, AttributeError, RegistryError) as exc:
            raise RegistryError(f"registry entry for service {service!r} on node {node!r} is unreadable "
                                f"({exc}); re-run services:notify on that node or delete the key") from None

    def where(self) -> dict[str, Any]:
        """What consumers (chef attributes, templates) see of an entry."""
        return {"node": self.node, "group": self.group, "address": str(self.address),
                "host": self.address.host, "port": self.address.port}

    @property
    def lease_id(self) -> str | None:
        """The lease as etcd's own tools write it (hex, as `etcdctl lease list`); None: permanent."""
        return f"{self.lease:x}" if self.lease else None

    def describe(self) -> dict[str, Any]:
        """Everything about an entry, for `services:list` (the lease in hex there too, as in its text)."""
        return {**self.where(), "service": self.service, "state": self.state.value, "lease": self.lease_id}
