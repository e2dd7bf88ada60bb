"""Which registry entries a rendered config (haproxy's) can take, and the names it gives them.

One entry that haproxy cannot load makes it refuse the whole file, and the consumer then follows
no registry change at all until that entry goes. So every entry is screened before a template
sees it: one that cannot be rendered safely is left out, with the reason, and the rest flows.
Left out: a service name that is not a plain identifier (`-x` reads as an option in an ACL), an
address that is no place to send requests (`[::]`, `0.0.0.0`, a multicast address), a hostname
that does not resolve here (haproxy refuses to start on one), and a second server of the same
name in one backend (which server names, below, make impossible short of a hash collision).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infra.config.chef import SERVICE_NAME
from infra.registry.entry import Entry, unusable_host

UNSAFE_SERVER_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")  # what haproxy takes in a server name

Resolver = Callable[[str], bool]


def resolves(host: str) -> bool:
    """Whether `host` resolves on this machine (the consumer, where haproxy resolves it at start)."""
    try:
        return bool(socket.getaddrinfo(host, None))
    except (OSError, UnicodeError):
        return False


def server_name(node: str) -> str:
    """haproxy's name for a node's server: the node id where haproxy takes it as is; else the id
    with each other character as '_' and a short hash of the id, so `deploy@web-1` and `deploy_web-1`
    stay two servers."""
    safe = UNSAFE_SERVER_CHARS.sub("_", node)
    if safe == node:
        return node
    return f"{safe}-{hashlib.sha256(node.encode()).hexdigest()[:8]}"


def unsafe_service(service: str) -> str | None:
    """Why `service` cannot name a backend, or None."""
    if SERVICE_NAME.fullmatch(service):
        return None
    return "the service name is not letters, digits, '_' and '-' starting with a letter or digit"


@dataclass(frozen=True)
class LeftOut:
    entry: Entry
    reason: str

    def __str__(self) -> str:
        entry = self.entry
        return f"left out {entry.service} on node {entry.node} at {entry.address}: {self.reason}"


@dataclass(frozen=True)
class Screened:
    entries: list[Entry]
    left_out: list[LeftOut]


def screen(entries: Iterable[Entry], resolve: Resolver | None = resolves) -> Screened:
    """The entries a config can take, and the others with why (`resolve`: None leaves hostnames
    unchecked, for a machine that is not the consumer)."""
    kept: list[Entry] = []
    left_out: list[LeftOut] = []
    servers: set[tuple[str, str]] = set()
    looked_up: dict[str, bool] = {}
    for entry in sorted(entries, key=lambda e: (e.service, e.node)):
        reason = unsafe_service(entry.service) or unusable_host(entry.address.host)
        host = entry.address.host
        if reason is None and resolve is not None and not _is_ip(host):
            if host not in looked_up:
                looked_up[host] = resolve(host)
            reason = None if looked_up[host] else f"the hostname {host} does not resolve here"
        if reason is None and (entry.service, server_name(entry.node)) in servers:
            reason = f"another node of {entry.service} has the server name {server_name(entry.node)}"
        if reason is not None:
            left_out.append(LeftOut(entry, reason))
            continue
        servers.add((entry.service, server_name(entry.node)))
        kept.append(entry)
    return Screened(kept, left_out)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
