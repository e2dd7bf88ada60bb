"""The watch agent: run CMD once per burst of changes to the services a group depends on.

Level-triggered, like a Kubernetes controller: events only say "look again". On every look
the agent reads the registry, digests what consumers see of each watched service, and runs
CMD when that differs from the digests of the last successful run (kept in a record file).
So a missed event, an etcd restart, a compacted history or an agent restart cost at most one
extra read, never a missed change, and a burst of events or a no-op re-notify costs no
extra run.

CMD runs in the loop's own thread, so it never runs twice at once; events arriving meanwhile
queue up and make one more run afterwards. The event stream is read by a helper thread that
only forwards batches, so the loop can wake up for debounce deadlines while etcd is quiet.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from infra.errors import RegistryError
from infra.providers.etcd import EtcdUnreachable, WatchEvent, WatchIdle, WatchStream
from infra.registry.command import check_command, run_command
from infra.registry.debounce import Debouncer
from infra.registry.fingerprint import WatchRecord, changed, digests
from infra.registry.registry import Registry, Snapshot

POLL = 0.25  # how often an idle loop checks whether it was asked to stop


@dataclass(frozen=True)
class CheckResult:
    """One look at the registry: what changed since the last run, and CMD's exit code if it ran."""

    changed: list[str]
    returncode: int | None = None

    @property
    def ran(self) -> bool:
        return self.returncode is not None


@dataclass(frozen=True)
class _Lost:
    reason: str
    idle: bool = False  # no event for a while: re-check quietly, it is not an outage


class Watcher:
    def __init__(self, make_registry: Callable[[], Registry], services: Iterable[str], cmd: str,
                 record: WatchRecord, *, debounce: float = 2.0, retry: float = 30.0,
                 idle_timeout: float = 60.0, log: Callable[[str], None] = print) -> None:
        check_command(cmd)  # a bad or missing CMD fails now, not at the first change
        self._make_registry = make_registry
        self.services = sorted(set(services))
        self.cmd, self.record, self.debounce, self.retry = cmd, record, debounce, retry
        self.idle_timeout, self._log = idle_timeout, log
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def once(self) -> CheckResult:
        """One look, for cron: run CMD if anything changed since the last recorded run."""
        result = self._check(self._make_registry().snapshot())
        if result.ran and result.returncode != 0:
            raise RegistryError(f"--exec {self.cmd!r} exited {result.returncode}")
        return result

    def run(self) -> None:
        """Watch until stop(): (re)connect, look once, then follow the event stream."""
        registry = self._make_registry()
        delay, lost, warned, quiet = 0.2, False, False, False
        while not self._stopping.is_set():
            try:
                snapshot = registry.snapshot()
                stream = registry.watch(snapshot.revision + 1, self.idle_timeout)
            except EtcdUnreachable as exc:
                if not warned:  # once per outage, not once per attempt
                    self._log(f"{exc}; retrying")
                lost = warned = True
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if lost or not quiet:
                self._log(("reconnected; " if lost else "") + f"watching {', '.join(self.services) or 'nothing'} "
                          f"from revision {snapshot.revision + 1}")
            delay, warned = 0.2, False
            try:
                lost, quiet = self._follow(registry, stream, snapshot)
            finally:
                stream.close()

    def _follow(self, registry: Registry, stream: WatchStream, snapshot: Snapshot) -> tuple[bool, bool]:
        """Act on the stream until it breaks or the agent is stopped: (lost etcd, only idle)."""
        events: queue.Queue[list[WatchEvent] | _Lost] = queue.Queue()
        threading.Thread(target=_forward, args=(stream, events), name="infra-watch-stream", daemon=True).start()
        burst = Debouncer(self.debounce)
        retry_at = self._after_check(self._check(snapshot))
        while not self._stopping.is_set():
            now = time.monotonic()
            wake = min(t for t in (burst.due(), retry_at, now + POLL) if t is not None)
            try:
                item = events.get(timeout=max(0.0, wake - now))
            except queue.Empty:
                item = None
            if isinstance(item, _Lost):
                if not item.idle:
                    self._log(f"lost the watch: {item.reason}")
                return not item.idle, item.idle
            if item is not None and self._relevant(registry, item):
                burst.poke(time.monotonic())
            now = time.monotonic()
            if burst.ready(now) or (retry_at is not None and now >= retry_at):
                burst.clear()
                try:
                    retry_at = self._after_check(self._check(registry.snapshot()))
                except EtcdUnreachable as exc:
                    self._log(f"lost etcd: {exc}")
                    return True, False
        return False, False

    def _relevant(self, registry: Registry, batch: list[WatchEvent]) -> bool:
        return any(registry.service_of(event.key) in self.services for event in batch)

    def _check(self, snapshot: Snapshot) -> CheckResult:
        now = digests(snapshot.entries, self.services)
        different = changed(self.record.digests, now)
        if not different:
            return CheckResult([])
        self._log(f"{', '.join(different)} changed; running {self.cmd}")
        result = run_command(self.cmd, env={"INFRA_CHANGED_SERVICES": ",".join(different)})
        if result.ok:
            self.record.save(now)
        self._log(f"{self.cmd} exited {result.returncode} after {result.seconds:.1f}s")
        return CheckResult(different, result.returncode)

    def _after_check(self, result: CheckResult) -> float | None:
        """When to look again without an event: only after a failed CMD."""
        if result.ran and result.returncode != 0:
            self._log(f"will try again in {self.retry:g}s")
            return time.monotonic() + self.retry
        return None


def _forward(stream: WatchStream, events: "queue.Queue[list[WatchEvent] | _Lost]") -> None:
    try:
        for batch in stream:
            events.put(batch)
    except WatchIdle as exc:
        events.put(_Lost(str(exc), idle=True))
    except RegistryError as exc:
        events.put(_Lost(str(exc)))
