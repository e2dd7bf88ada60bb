"""The executor: walks a plan's graph with bounded parallelism and records state after each step.

An action starts once every changing action it depends on has finished. A failed action stops
its dependants; everything else goes on. State is recorded after every completed action (once
for actions that complete together), before anything new starts: appended to the state's journal
(infra/state/journal.py: on disk within a second; a backend without one writes the whole state,
atomically), and the state written whole at the end. So a kill loses at most the actions that were
running, and a re-run plans from what is recorded and observed.
"""

from __future__ import annotations

import heapq
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import SimpleQueue
from typing import Any, Protocol, cast

from infra.errors import InfraError, RollPaused
from infra.reconciler.actions import ActionKind
from infra.reconciler.kinds import LOCAL_KINDS
from infra.reconciler.plan import Action, Plan, recorded_as
from infra.reconciler.refs import ref, resolve
from infra.state.backend import StateBackend, still_held
from infra.state.journal import finish, record_changes
from infra.state.lock import LockInfo, lock_lost_at_end
from infra.state.model import State

# Actions that leave a new resource in AWS, which AWS's listings may not show for a while.
MAKES = frozenset({ActionKind.CREATE, ActionKind.REPLACE, ActionKind.BUILD, ActionKind.PROMOTE})


class Listener(Protocol):
    def started(self, action: Action) -> None: ...

    def progress(self, action: Action, message: str) -> None: ...

    def finished(self, action: Action, seconds: float) -> None: ...

    def failed(self, action: Action, error: str, seconds: float) -> None: ...

    def skipped(self, action: Action, because: str) -> None: ...

    def paused(self, action: Action, where: str) -> None: ...

    def flush(self) -> None:
        """Show what was said so far: called once a turn, after its actions were recorded and the
        next ones started. A listener may hold the lines of a turn until then (each line written
        alone cost the scheduling thread a system call, and a wait to get the interpreter back)."""


class QuietListener:
    def started(self, action: Action) -> None: pass

    def progress(self, action: Action, message: str) -> None: pass

    def finished(self, action: Action, seconds: float) -> None: pass

    def failed(self, action: Action, error: str, seconds: float) -> None: pass

    def skipped(self, action: Action, because: str) -> None: pass

    def paused(self, action: Action, where: str) -> None: pass

    def flush(self) -> None: pass


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # Rolls that stopped at a manual pause, as asked (not failures): where each stands, and what next.
    paused: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


class Applier(Protocol):
    def apply(self, action: Action, attributes: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
        """Carry out one action with fully resolved `attributes`; return the outputs to record."""


class ProviderSet(Protocol):
    """What the executor asks of a run's providers (providers/base.py's `Providers` is one): the
    core names the interface it needs, and providers, a layer above, fit it."""

    def for_kind(self, kind: str) -> Applier: ...

    def interrupt(self) -> None: ...

    def finish(self, applied: list[Action], report: Callable[[Action, str], None]) -> None: ...


class Executor:
    def __init__(self, providers: ProviderSet, backend: StateBackend, state: State, *, parallelism: int = 10,
                 listener: Listener | None = None, lock: LockInfo | None = None) -> None:
        """`lock`: the state lock this apply took; checked before each step and state write."""
        if parallelism < 1:
            raise InfraError("--parallelism must be at least 1")
        self.providers, self.backend, self.state, self.lock = providers, backend, state, lock
        self.parallelism = parallelism
        self.listener = _Guarded(listener or QuietListener())

    def run(self, plan: Plan) -> ApplyResult:
        result = ApplyResult()
        self._record_unchanged(plan)
        schedule = _Schedule([a for a in plan.actions if a.action.is_change])
        running: dict[Future, tuple[Action, float]] = {}
        try:
            self._walk(schedule, running, result)
        except BaseException:
            self._finish()  # the error in flight is the one to tell
            raise
        if not self._finish():
            raise lock_lost_at_end(self.backend.description, cast(LockInfo, self.lock))
        for address, action in schedule.pending.items():
            result.skipped[address] = "waits on an action that did not run"
            self.listener.skipped(action, result.skipped[address])
        self.listener.flush()
        applied = set(result.applied)
        self.providers.finish([a for a in plan.actions if a.address in applied], self.listener.progress)
        return result

    def _walk(self, schedule: _Schedule, running: dict[Future, tuple[Action, float]], result: ApplyResult) -> None:
        """Start what can start, up to the parallelism, and settle what finishes, until nothing is left.

        Each turn settles what finished and starts what may start under one hold of the signals
        (signals_held: four calls of signal.signal, which cost more than starting an action did)."""
        finishing: SimpleQueue[Future] = SimpleQueue()  # each action's future, as it finishes
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply") as pool:
            try:
                done: list[Future] = []
                checked = False  # since the last start: a state write checks the lock too, once is enough
                while True:
                    with signals_held():
                        if done:
                            checked = self._settle_all([(future, *running.pop(future)) for future in done],
                                                       schedule, result)
                        if schedule.pending and len(running) < self.parallelism and not checked:
                            self._check_lock()
                        while len(running) < self.parallelism and (action := schedule.take()) is not None:
                            self.listener.started(action)
                            future = pool.submit(self._apply_one, action)
                            running[future] = (action, time.monotonic())
                            future.add_done_callback(finishing.put)
                        self.listener.flush()
                    if not running:
                        break  # nothing left, or what is left waits on something that will never run
                    done = _finished(finishing)
            except KeyboardInterrupt:
                for future in running:
                    future.cancel()
                # SIGTERM reaches infra alone, Ctrl-C the terminal's whole group, `kill -INT` infra alone:
                # either way, what runs outside (packer) or waits (a roll) is stopped, so the apply ends soon.
                self.providers.interrupt()
                with signals_held():
                    self._settle_all([(future, action, started) for future, (action, started) in running.items()
                                      if not future.cancelled()], schedule, result)
                    self.listener.flush()
                raise

    def _settle_all(self, finished: list[tuple[Future, Action, float]], schedule: _Schedule,
                    result: ApplyResult) -> bool:
        """Record every action that finished, then record state once, before anything new starts;
        True when it wrote (and so checked the lock). Called with the signals held."""
        recorded = [action.address for future, action, started in finished
                    if self._settle(action, future, started, schedule, result)]
        if recorded:
            self._write(recorded)
        return bool(recorded)

    def _settle(self, action: Action, future: Future, started: float, schedule: _Schedule,
                result: ApplyResult) -> bool:
        seconds = time.monotonic() - started
        try:
            attributes, outputs = future.result()
        except RollPaused as paused:  # as asked: what serves is unchanged; where the roll waits is recorded
            return self._paused(action, paused, schedule, result)
        except Exception as exc:  # one action's failure must not stop the others
            message = str(exc) if isinstance(exc, InfraError) else f"{type(exc).__name__}: {exc}"
            result.failed[action.address] = message
            self.listener.failed(action, message, seconds)
            for dependant in schedule.drop_dependants(action.address):
                result.skipped[dependant.address] = f"depends on {action.address}, which failed"
                self.listener.skipped(dependant, result.skipped[dependant.address])
            return False
        schedule.finished(action.address)
        self._record(action, attributes, outputs)
        result.applied.append(action.address)
        self.listener.finished(action, seconds)
        return True

    def _paused(self, action: Action, paused: RollPaused, schedule: _Schedule, result: ApplyResult) -> bool:
        """A roll stopped at a manual pause: the resource is recorded as it serves now (as it was
        recorded, with the paused roll among its outputs); what depends on it waits for the promote."""
        result.paused[action.address] = str(paused)
        self.listener.paused(action, str(paused))
        for dependant in schedule.drop_dependants(action.address):
            result.skipped[dependant.address] = f"waits for the roll of {action.address}, paused"
            self.listener.skipped(dependant, result.skipped[dependant.address])
        recorded = self.state.resources.get(action.address)
        attributes = recorded.attributes if recorded is not None else (action.before or {})
        self._record(action, attributes, paused.outputs)
        return True

    def _apply_one(self, action: Action) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        missing: list[str] = []  # the references left as they are, in the order resolve meets them

        def output(address: str, name: str) -> Any:
            found = self._output(address, name)
            if found is None:
                missing.append(ref(address, name))
            return found

        attributes = resolve(action.after, output) if action.after is not None else None
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
            # Made now when the action makes a new one in AWS (a create, a roll's new ASG, a build), else
            # as recorded (a plan that does not find it yet waits for AWS to show what was made this
            # recently: providers/aws/unlisted.py).
            made = action.action in MAKES and action.kind not in LOCAL_KINDS
            self.state.resources[action.address] = recorded_as(
                action, attributes or {}, outputs, was=self.state.resources.get(action.address),
                made_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if made else None)

    def _record_unchanged(self, plan: Plan) -> None:
        """Adopt what already matches (so references resolve) and forget what is gone, in one write."""
        changed = []
        for action in plan.actions:
            if action.action.is_change:
                continue
            if action.after is None:
                if self.state.resources.pop(action.address, None) is not None:
                    changed.append(action.address)
                continue
            recorded = self.state.resources.get(action.address)
            entry = recorded_as(action, action.after, action.outputs, was=recorded)
            if recorded != entry:
                self.state.resources[action.address] = entry
                changed.append(action.address)
        if changed:
            self._write(changed)

    def _finish(self) -> bool:
        """Write what the journal holds into the state, whole; not when the lock was lost (the state
        is another run's now): False then."""
        if self.lock is not None and not self.backend.holds(self.lock):
            return False
        finish(self.backend, self.state)
        return True

    def _check_lock(self) -> None:
        if self.lock is not None:
            still_held(self.backend, self.lock)

    def _write(self, changed: list[str]) -> None:
        self._check_lock()
        self.state.next_version()
        record_changes(self.backend, self.state, changed)



def _finished(finishing: SimpleQueue[Future]) -> list[Future]:
    """The futures that finished: at least one (waited for), and every other one there by then.
    Each finished future is put in the queue by its own callback: no turn looks at every running
    one (concurrent.futures.wait takes and releases the lock of each of them)."""
    done = [finishing.get()]
    while not finishing.empty():
        done.append(finishing.get())
    return done


HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while an action starts or finished ones are recorded: an interrupt
    then never falls between the start of an action and the executor knowing of it, nor in the
    middle of writing the state, so every started action is waited for and recorded before the
    interrupt ends the apply.

    Held in Python, not by the thread's signal mask: any other thread of the process (a timer, a
    pool's worker) may take the signal from the kernel, and Python then runs the handler in the
    main thread wherever it is. Here the handler only notes the signal; the real one runs after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for signum in HELD:
            previous[signum] = signal.signal(signum, lambda number, frame: caught.append(number))
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(caught):
            _deliver(number, previous[number])


def _deliver(signum: int, handler: Any) -> None:
    """What the handler held back would have done with `signum`."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


class _Schedule:
    """Which actions may start: those whose changing dependencies have all finished, in plan order
    (so with --parallelism 1 an apply runs exactly in the order the plan shows)."""

    def __init__(self, actions: list[Action]) -> None:
        self.position = {a.address: i for i, a in enumerate(actions)}
        self.pending = {a.address: a for a in actions}
        self.waiting = {a.address: {d for d in a.depends_on if d in self.pending} for a in actions}
        self.dependants: dict[str, list[str]] = defaultdict(list)
        for action in actions:
            for dependency in self.waiting[action.address]:
                self.dependants[dependency].append(action.address)
        self.ready = [self.position[a.address] for a in actions if not self.waiting[a.address]]
        heapq.heapify(self.ready)
        self.actions = actions

    def take(self) -> Action | None:
        while self.ready:
            address = self.actions[heapq.heappop(self.ready)].address
            if address in self.pending:
                return self.pending.pop(address)
        return None

    def finished(self, address: str) -> None:
        for dependant in self.dependants.get(address, ()):
            waiting = self.waiting[dependant]
            waiting.discard(address)
            if not waiting and dependant in self.pending:
                heapq.heappush(self.ready, self.position[dependant])

    def drop_dependants(self, address: str) -> list[Action]:
        """Everything that (transitively) waits on a failed action: it will not run."""
        dropped, stack = [], list(self.dependants.get(address, ()))
        while stack:
            dependant = stack.pop()
            if dependant in self.pending:
                dropped.append(self.pending.pop(dependant))
                stack.extend(self.dependants.get(dependant, ()))
        return dropped


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

        setattr(self, name, call)  # made once a name: the next look finds it without __getattr__
        return call
