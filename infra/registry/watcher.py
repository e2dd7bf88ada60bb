"""The watch loop: act once per burst of changes to the services a node consumes.

Level-triggered, like a Kubernetes controller: events only say "look again". On every look the
loop reads the registry and hands the snapshot to its action, which compares it with what it
acted on last (digests for `services:watch --exec`, the file's text for `services:render
--watch`). So a missed event, an etcd restart, a compacted history or an agent restart cost at
most one extra read, never a missed change, and a burst of events costs one action.

The action runs in the loop's own thread, so it never runs twice at once; events arriving
meanwhile queue up and make one more look afterwards. The event stream is read by a helper
thread that only forwards batches, so the loop can wake up for debounce deadlines while etcd is
quiet. An action that fails is tried again after `retry` seconds, or at the next change.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infra.errors import RegistryError
from infra.providers.etcd import EtcdUnreachable, WatchEvent, WatchIdle, WatchStream
from infra.registry.debounce import Debouncer
from infra.registry.registry import Registry, Snapshot

POLL = 0.25  # how often an idle loop checks whether it was asked to stop

Action = Callable[[Snapshot], bool]  # act on a look at the registry; False: failed, try again later


@dataclass(frozen=True)
class _Lost:
    reason: str
    idle: bool = False  # no event for a while: re-check quietly, it is not an outage


class Watcher:
    """`services` None watches every service; `quiet`/`max_wait` are the debounce window (see Debouncer)."""

    def __init__(self, make_registry: Callable[[], Registry], services: Iterable[str] | None, act: Action, *,
                 quiet: float = 2.0, max_wait: float | None = None, retry: float = 30.0,
                 idle_timeout: float = 60.0, log: Callable[[str], None] = print) -> None:
        self._make_registry, self._act = make_registry, act
        self.services = None if services is None else sorted(set(services))
        self.quiet, self.max_wait, self.retry = quiet, max_wait, retry
        self.idle_timeout, self._log = idle_timeout, log
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

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
                watched = "every service" if self.services is None else ", ".join(self.services) or "nothing"
                self._log(("reconnected; " if lost else "")
                          + f"watching {watched} from revision {snapshot.revision + 1}")
            delay, warned = 0.2, False
            try:
                lost, quiet = self._follow(registry, stream, snapshot)
            finally:
                stream.close()

    def _follow(self, registry: Registry, stream: WatchStream, snapshot: Snapshot) -> tuple[bool, bool]:
        """Act on the stream until it breaks or the loop is stopped: (lost etcd, only idle)."""
        events: queue.Queue[list[WatchEvent] | _Lost] = queue.Queue()
        threading.Thread(target=_forward, args=(stream, events), name="infra-watch-stream", daemon=True).start()
        burst = Debouncer(self.quiet, self.max_wait)
        retry_at = self._look(snapshot)
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
                    retry_at = self._look(registry.snapshot())
                except EtcdUnreachable as exc:
                    self._log(f"lost etcd: {exc}")
                    return True, False
        return False, False

    def _relevant(self, registry: Registry, batch: list[WatchEvent]) -> bool:
        if self.services is None:
            return any(registry.service_of(event.key) is not None for event in batch)
        return any(registry.service_of(event.key) in self.services for event in batch)

    def _look(self, snapshot: Snapshot) -> float | None:
        """Act; when to look again without an event: only after a failed action."""
        if self._act(snapshot):
            return None
        self._log(f"will try again in {self.retry:g}s")
        return time.monotonic() + self.retry


def _forward(stream: WatchStream, events: queue.Queue[list[WatchEvent] | _Lost]) -> None:
    try:
        for batch in stream:
            events.put(batch)
    except WatchIdle as exc:
        events.put(_Lost(str(exc), idle=True))
    except RegistryError as exc:
        events.put(_Lost(str(exc)))
