"""The executor: walks a plan's graph with bounded parallelism and records state after each step.

An action starts once every changing action it depends on has finished. A failed action stops
its dependants; everything else goes on. State is written (atomically, by the backend) after
every completed action (once for actions that complete together), before anything new starts,
so a crash loses at most the actions that were running, and a re-run plans from what is
recorded and observed.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.errors import InfraError
from infra.providers.base import Providers
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action, Plan
from infra.reconciler.refs import resolve, unresolved
from infra.state.backend import StateBackend
from infra.state.model import ResourceState, State


class Listener(Protocol):
    def started(self, action: Action) -> None: ...

    def progress(self, action: Action, message: str) -> None: ...

    def finished(self, action: Action, seconds: float) -> None: ...

    def failed(self, action: Action, error: str, seconds: float) -> None: ...

    def skipped(self, action: Action, because: str) -> None: ...


class QuietListener:
    def started(self, action: Action) -> None: pass

    def progress(self, action: Action, message: str) -> None: pass

    def finished(self, action: Action, seconds: float) -> None: pass

    def failed(self, action: Action, error: str, seconds: float) -> None: pass

    def skipped(self, action: Action, because: str) -> None: pass


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


class Executor:
    def __init__(self, providers: Providers, backend: StateBackend, state: State, *, parallelism: int = 10,
                 listener: Listener | None = None) -> None:
        if parallelism < 1:
            raise InfraError("--parallelism must be at least 1")
        self.providers, self.backend, self.state = providers, backend, state
        self.parallelism = parallelism
        self.listener = _Guarded(listener or QuietListener())

    def run(self, plan: Plan) -> ApplyResult:
        result = ApplyResult()
        self._record_unchanged(plan)
        pending = {a.address: a for a in plan.actions if a.action.is_change}
        order = list(pending)
        running: dict[Future, tuple[Action, float]] = {}
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply") as pool:
            try:
                while pending or running:
                    for address in [a for a in order if a in pending]:
                        if len(running) >= self.parallelism:
                            break
                        action = pending[address]
                        blocked = [d for d in action.depends_on if d in pending or _is_running(d, running)]
                        if blocked:
                            continue
                        del pending[address]
                        self.listener.started(action)
                        running[pool.submit(self._apply_one, action)] = (action, time.monotonic())
                    if not running:
                        break  # what is left waits on something that will never run
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    self._settle_all([(future, *running.pop(future)) for future in done], pending, result)
            except KeyboardInterrupt:
                for future in running:
                    future.cancel()
                self._settle_all([(future, action, started) for future, (action, started) in running.items()
                                  if not future.cancelled()], pending, result)
                raise
        for address, action in pending.items():
            result.skipped[address] = "waits on an action that did not run"
            self.listener.skipped(action, result.skipped[address])
        return result

    def _settle_all(self, finished: list[tuple[Future, Action, float]], pending: dict[str, Action],
                    result: ApplyResult) -> None:
        """Record every action that finished, then write state once, before anything new starts."""
        recorded = [self._settle(action, future, started, pending, result) for future, action, started in finished]
        if any(recorded):
            self._write()

    def _settle(self, action: Action, future: Future, started: float, pending: dict[str, Action],
                result: ApplyResult) -> bool:
        seconds = time.monotonic() - started
        try:
            attributes, outputs = future.result()
        except Exception as exc:  # one action's failure must not stop the others
            message = str(exc) if isinstance(exc, InfraError) else f"{type(exc).__name__}: {exc}"
            result.failed[action.address] = message
            self.listener.failed(action, message, seconds)
            self._skip_dependants(action.address, pending, result)
            return False
        self._record(action, attributes, outputs)
        result.applied.append(action.address)
        self.listener.finished(action, seconds)
        return True

    def _apply_one(self, action: Action) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        attributes = resolve(action.after, self._output) if action.after is not None else None
        missing = unresolved(attributes) if attributes is not None else []
        if missing:
            needed = ", ".join(m[2:-1] for m in missing)
            raise InfraError(f"needs {needed}, which is not known yet; apply the resources it names first")
        provider = self.providers.for_kind(action.kind)
        outputs = provider.apply(action, attributes or {}, lambda message: self.listener.progress(action, message))
        return attributes, outputs or {}

    def _output(self, address: str, name: str) -> Any:
        recorded = self.state.resources.get(address)
        return recorded.outputs.get(name) if recorded is not None else None

    def _record(self, action: Action, attributes: dict[str, Any] | None, outputs: dict[str, Any]) -> None:
        if action.action is ActionKind.DELETE:
            self.state.resources.pop(action.address, None)
        else:
            self.state.resources[action.address] = ResourceState(
                kind=action.kind, group=action.group, attributes=attributes or {}, outputs=outputs,
                depends_on=action.depends_on)

    def _record_unchanged(self, plan: Plan) -> None:
        """Adopt what already matches (so references resolve) and forget what is gone, in one write."""
        changed = False
        for action in plan.actions:
            if action.action.is_change:
                continue
            if action.after is None:
                changed |= self.state.resources.pop(action.address, None) is not None
                continue
            entry = ResourceState(kind=action.kind, group=action.group, attributes=action.after,
                                  outputs=action.outputs, depends_on=action.depends_on)
            if self.state.resources.get(action.address) != entry:
                self.state.resources[action.address] = entry
                changed = True
        if changed:
            self._write()

    def _write(self) -> None:
        self.state.next_version()
        self.backend.write(self.state)

    def _skip_dependants(self, failed: str, pending: dict[str, Action], result: ApplyResult) -> None:
        blocked = {failed}
        grew = True
        while grew:
            grew = False
            for address, action in list(pending.items()):
                if any(d in blocked for d in action.depends_on):
                    blocked.add(address)
                    del pending[address]
                    result.skipped[address] = f"depends on {failed}, which failed"
                    self.listener.skipped(action, result.skipped[address])
                    grew = True


class _Guarded:
    """Calls the listener, but never lets it stop an apply: progress output may fail (a closed
    pipe, a full disk) while actions are running, and their results must still be recorded."""

    def __init__(self, listener: Listener) -> None:
        self._listener: Listener | None = listener

    def __getattr__(self, name: str):
        def call(*args: Any) -> None:
            if self._listener is None:
                return
            try:
                getattr(self._listener, name)(*args)
            except Exception:
                self._listener = None  # stop reporting; keep applying

        return call


def _is_running(address: str, running: dict[Future, tuple[Action, float]]) -> bool:
    return any(action.address == address for action, _ in running.values())
