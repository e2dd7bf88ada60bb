"""Scans asked for early: a plan's bulk describes, paged while it reads the state and builds nodes.json's graph.

A plan waits on AWS mostly in a few scans that list what infra made in a region, by tag: a region's
autoscaling groups are a chain of pages, one round trip each (a hundred at 10,000 groups). None of
these scans depends on the desired graph, only on the regions nodes.json names, so a plan starts them
as soon as it has read nodes.json (engine.make_plan) and the providers, when they observe, read what
was paged so far and wait for the rest: the round trips overlap work the plan does anyway.

A scan is taken once, by the describe that asks with the same arguments; one nobody takes (a plan
that fails first, a region the observation does not ask about) is stopped at its next page by
`stop`. An error of the scan (throttled to the end, no credentials) is raised where it is read, as
the describe would have raised it there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any


class EarlyScan:
    """One scan paged in a thread of its own; its items are read, as they arrive, by `items`."""

    def __init__(self, name: str, pages: Callable[[], Iterable[Any]]) -> None:
        self._found: list[Any] = []
        self._done = False
        self._error: BaseException | None = None
        self._stopped = threading.Event()
        self._arrived = threading.Condition()
        threading.Thread(target=self._page, args=(pages,), name=f"early-{name}",
                         daemon=True).start()  # a daemon: one nobody reads never holds the process open

    def _page(self, pages: Callable[[], Iterable[Any]]) -> None:
        try:
            for item in pages():
                with self._arrived:
                    self._found.append(item)
                    self._arrived.notify_all()
                if self._stopped.is_set():
                    return
        except BaseException as exc:  # raised to the reader (the describe's own error, as it would be)
            self._error = exc
        finally:
            with self._arrived:
                self._done = True
                self._arrived.notify_all()

    def items(self) -> Iterator[Any]:
        """Every item the scan finds, in its order: those paged so far at once, then each as it comes."""
        read = 0
        while True:
            with self._arrived:
                while read == len(self._found) and not self._done:
                    self._arrived.wait()
                batch, done = self._found[read:], self._done
            read += len(batch)
            yield from batch
            if done and read == len(self._found):
                if self._error is not None:
                    raise self._error
                return

    def stop(self) -> None:
        self._stopped.set()


class EarlyPages:
    """The scans one run started early, by what they ask, until a describe takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scans: dict[Hashable, EarlyScan] = {}

    def start(self, key: Hashable, name: str, pages: Callable[[], Iterable[Any]]) -> None:
        """Read `pages()` now, in a thread, for the first `take(key)`; once for each key."""
        with self._lock:
            if key not in self._scans:
                self._scans[key] = EarlyScan(name, pages)

    def take(self, key: Hashable) -> EarlyScan | None:
        """The scan started early under `key`, once (a second describe pages for itself)."""
        if not self._scans:
            return None
        with self._lock:
            return self._scans.pop(key, None)

    def stop(self) -> None:
        """Stop what nobody took: each scan ends at its next page."""
        with self._lock:
            scans, self._scans = list(self._scans.values()), {}
        for scan in scans:
            scan.stop()
