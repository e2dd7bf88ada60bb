"""The node-side agent behind `services:watch`: the watcher, the registrar, or both.

One process per node (a systemd unit) does both jobs: it keeps the node's own registration true
(health-gated, renewed on its lease) and reacts to the services the node consumes. When it
dies, its lease expires and every consumer's agent sees the node go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.errors import RegistryError
from infra.registry.entry import Address
from infra.registry.fingerprint import WatchRecord
from infra.registry.health import CheckPolicy, HealthCheck
from infra.registry.on_change import RunOnChange
from infra.registry.registrar import Node, Registrar
from infra.registry.registry import Registry
from infra.registry.watcher import Watcher


@dataclass(frozen=True)
class AgentSpec:
    """What `services:watch` was asked to do, its options checked."""

    group: str
    node: str
    depends_on: list[str]
    services: Callable[[], list[str]]  # what the group runs, read again from nodes.json when needed
    exec_cmd: str | None = None
    record: Path | None = None
    address: Address | None = None
    ttl: int | None = None
    checks: dict[str, HealthCheck] | None = None
    policy: CheckPolicy = CheckPolicy()
    grace: float = 10.0
    debounce: float = 2.0
    retry: float = 30.0


def once(spec: AgentSpec, registry: Callable[[], Registry], log: Callable[[str], None]) -> str:
    """`--once`: run the command if anything it watches changed since its last recorded run."""
    action = _action(spec, log)
    if action is None:
        return "nothing to watch"
    result = action.once(registry().snapshot())
    return (f"ran {spec.exec_cmd} ({', '.join(result.changed)} changed)" if result.ran
            else "nothing changed since the last run")


def agent(spec: AgentSpec, registry: Callable[[], Registry], log: Callable[[str], None]) -> tuple[
        Watcher | None, Registrar | None]:
    """The watcher (with --exec) and the registrar (with --ttl or --check), for run_agent."""
    action = _action(spec, log)
    watcher = None if action is None else Watcher(registry, spec.depends_on, action, quiet=spec.debounce,
                                                  retry=spec.retry, log=log)
    registrar = None
    if spec.address is not None and (spec.ttl or spec.checks):
        if spec.checks:
            log(f"checking {', '.join(spec.checks)} ({spec.policy.describe()})")
        registrar = Registrar(registry, Node(spec.node, spec.group, spec.address), spec.services, ttl=spec.ttl,
                              checks=spec.checks or {}, policy=spec.policy, grace=spec.grace, log=log)
    return watcher, registrar


def _action(spec: AgentSpec, log: Callable[[str], None]) -> RunOnChange | None:
    if spec.exec_cmd is None or not spec.depends_on or spec.record is None:
        return None
    return RunOnChange(spec.depends_on, spec.exec_cmd, WatchRecord.load(spec.record), log=log)


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
