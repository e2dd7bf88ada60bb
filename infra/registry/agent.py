"""The node-side agent behind `services:watch`: the watcher, the registrar, or both.

One process per node (a systemd unit) does both jobs: it keeps the node's own registration true
(health-gated, renewed on its lease) and reacts to the services the node consumes. When it
dies, its lease expires and every consumer's agent sees the node go.
"""

from __future__ import annotations

from infra.errors import RegistryError
from infra.registry.entry import Address
from infra.registry.registrar import Registrar
from infra.registry.watcher import Watcher


def check_watch(group: str, depends_on: list[str], *, exec_cmd: str | None, ttl: int | None,
                address: Address | None, checks: bool = False, once: bool = False) -> None:
    """Refuse option mixes that cannot work, before anything starts."""
    registers = bool(ttl or checks)
    if registers and once:
        option = "--ttl" if ttl else "--check"
        raise RegistryError(f"services:watch --once exits at once, so it cannot keep {option} going; "
                            f"use services:notify {option} for that")
    if registers and address is None:
        option = "--ttl" if ttl else "--check"
        raise RegistryError(f"services:watch {option} keeps this node registered, so it needs --address "
                            f"HOST[:PORT] too")
    if exec_cmd is not None and not depends_on and not registers:
        raise RegistryError(f"group {group!r} has no depends_on: there is nothing to watch "
                            f"(add the services it consumes to depends_on in nodes.json)")
    if exec_cmd is None and not registers:
        raise RegistryError("services:watch needs --exec CMD (run when a dependency changes), or --ttl / --check "
                            "with --address (keep this node registered), or both")


def run_agent(watcher: Watcher | None, registrar: Registrar | None) -> None:
    """Run until interrupted; the registrar's thread stops with the watcher (or alone, if no watcher)."""
    if registrar is not None:
        registrar.start()
    try:
        if watcher is not None:
            watcher.run()
        elif registrar is not None:
            while registrar.is_alive():
                registrar.join(timeout=0.5)  # a short join, so SIGTERM and Ctrl-C get through
    finally:
        if watcher is not None:
            watcher.stop()
        if registrar is not None:
            registrar.stop()
