"""The state journal: what an apply finished, appended as it finishes, so that the bytes an apply
writes for its state grow with what it changes, not with the square of the fleet.

The executor used to write the whole state (atomically, fsynced) after every batch of finished
actions: making 1,000 groups wrote 4.9 GB for a final state of 3.6 MB, and each write was an
upload with the S3 backend. Now each batch is one line appended to a journal beside the state
and handed to the operating system before anything new starts (which keeps it through a kill -9 of
the process), flushed to disk (fsync) at least every `SYNC_EVERY` seconds (an fsync per batch, 5 ms
on the benchmark's disk, kept the apply of 10,000 groups waiting 69 s of its 188), and the state
is written whole ("compacted") only when
the journal has grown as large as the state was when last written (so all those writes together
are a small multiple of the final state), at the end of the apply, and for a remote backend at
least every `REMOTE_EVERY` seconds (as Terraform persists a remote state every 20 s of a long
apply). A kill -9 at any moment loses at most the actions in flight, and a dead machine also
what finished in the last `SYNC_EVERY` seconds (what infra made in AWS carries its owner's tags:
the next plan finds it, and takes it as made): reading the state replays the journal.

The journal's first line names the state version it continues, `{"journal": 1, "lineage": ...,
"serial": ...}`; each later line is `<crc32, 8 hex digits> <record>`, the record a JSON object:
`serial` (the state's serial after it), `set` (each resource recorded, by address) and `drop`
(the addresses forgotten). Replaying applies the records in order; it stops at the first line
that is cut short or whose checksum does not match (a crash while it was written: those actions
were in flight, and nothing after it can follow). A journal that continues another version of
the state is not replayed: a compaction wrote the state and died before it removed the journal.

The journal is always a local file (for S3, in the ops repository's `.infra/`), kept until the
state it holds is written to the backend: a crash of an apply against S3 leaves its finished
actions in the journal of the machine that ran it, which the next command there uploads.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from infra.errors import StateError
from infra.fsutil import atomic_write_text
from infra.state.backend import StateBackend
from infra.state.lock import Confirm, LockInfo
from infra.state.model import ResourceState, State

VERSION = 1
REMOTE_EVERY = 20.0  # seconds: a remote state is written at least this often while an apply records
MIN_COMPACT_BYTES = 1 << 20  # a journal smaller than this is never compacted before the end
SYNC_EVERY = 1.0  # seconds: what the journal is given is flushed to disk (fsync) within this


class JournaledBackend:
    """A state backend whose applies append to a local journal between whole writes."""

    def __init__(self, inner: StateBackend, path: Path, *, every: float | None = None,
                 sync_every: float = SYNC_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner, self.path, self.every, self.sync_every, self.clock = inner, Path(path), every, sync_every, clock
        self.description = inner.description
        self._base: tuple[str, int] | None = None  # (lineage, serial) the backend holds, as last read or written
        self._handle: IO[bytes] | None = None
        self._journal_bytes = self._state_bytes = 0
        self._written_at = self._synced_at = clock()
        self._syncing = threading.Lock()  # the timer's fsync and the apply's close of the journal
        self._timer: threading.Timer | None = None

    def read(self) -> State:
        state = self.inner.read()
        self._base = (state.lineage, state.serial)
        for number, record in enumerate(records(self.path, state.lineage, state.serial), start=1):
            try:
                replay(state, record)
            except (ValidationError, KeyError, TypeError, AttributeError):
                raise StateError(f"{self.path}: record {number} of the state's journal is damaged (its checksum "
                                 f"matches, its content is not a record); move the journal aside to read the state "
                                 f"as last written whole (the actions it recorded are then observed again)") from None
        return state

    def write(self, state: State) -> None:
        """The whole state to the backend, then the journal it holds removed."""
        self._close()
        self.inner.write(state)
        self._base = (state.lineage, state.serial)
        self._state_bytes = len(state.to_json())  # each resource's text is kept: a join
        self.path.unlink(missing_ok=True)
        self._journal_bytes, self._written_at = 0, self.clock()

    def record(self, state: State, changed: Iterable[str]) -> None:
        """What changed in `state` (its serial already moved on), appended and handed to the system
        (on disk within `sync_every`: `_sync_soon`); the state written whole instead when the journal
        has grown enough, or it has never been written."""
        if self._handle is None and not self._begin(state):
            self.write(state)
            return
        assert self._handle is not None
        line = entry(state, changed)
        self._handle.write(line)
        self._handle.flush()
        self._sync_soon()
        self._journal_bytes += len(line)
        grown = self._journal_bytes >= max(self._state_bytes, MIN_COMPACT_BYTES)
        due = self.every is not None and self.clock() - self._written_at >= self.every
        if grown or due:
            self.write(state)

    def flush(self, state: State) -> None:
        """At the end of an apply: what the journal holds, written whole to the backend."""
        if self._handle is not None or self.path.exists():
            self.write(state)

    def _begin(self, state: State) -> bool:
        """Start a journal continuing what the backend holds; False when that is not `state`'s
        lineage (a state never written, or replaced meanwhile: it is written whole first)."""
        if self._base is None or self._base[0] != state.lineage or not state.lineage:
            return False
        if self.path.exists():  # a journal left by a crash, replayed into `state` when read: start afresh
            return False
        header = json.dumps({"journal": VERSION, "lineage": self._base[0], "serial": self._base[1]}) + "\n"
        atomic_write_text(self.path, header, private=True)
        self._handle = open(self.path, "ab")  # noqa: SIM115  (open until the journal is compacted)
        self._journal_bytes = len(header)
        return True

    def _sync_soon(self) -> None:
        """What was appended goes to disk within `sync_every` seconds: at once when the last fsync is
        that old, else by a timer (an apply may then wait minutes on a roll with nothing to record)."""
        with self._syncing:
            if self._timer is not None:
                return
            if self.clock() - self._synced_at >= self.sync_every:
                self._sync()
                return
            self._timer = threading.Timer(self.sync_every, self._sync_later)
            self._timer.daemon = True
            self._timer.start()

    def _sync_later(self) -> None:
        with self._syncing:
            self._timer = None
            if self._handle is not None:
                self._sync()

    def _sync(self) -> None:
        assert self._handle is not None
        os.fsync(self._handle.fileno())
        self._synced_at = self.clock()

    def _close(self) -> None:
        with self._syncing:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._handle is not None:
                self._sync()  # what it holds is on disk, whatever comes next (a whole write may fail)
                self._handle.close()
                self._handle = None

    def acquire(self, info: LockInfo) -> None:
        self.inner.acquire(info)

    def release(self, info: LockInfo) -> None:
        self._close()
        self.inner.release(info)

    def holds(self, info: LockInfo) -> bool:
        return self.inner.holds(info)

    def force_unlock(self, lock_id: str, confirm: Confirm) -> LockInfo:
        return self.inner.force_unlock(lock_id, confirm)


def unwrapped(backend: StateBackend) -> StateBackend:
    """The backend itself (local, S3) under its journal."""
    return backend.inner if isinstance(backend, JournaledBackend) else backend


def record_changes(backend: StateBackend, state: State, changed: Iterable[str]) -> None:
    """Record what changed: in the journal of a journaled backend, else by writing the whole state."""
    if isinstance(backend, JournaledBackend):
        backend.record(state, changed)
    else:
        backend.write(state)


def finish(backend: StateBackend, state: State) -> None:
    """An apply ends: a journaled backend's journal is written into the state."""
    if isinstance(backend, JournaledBackend):
        backend.flush(state)


def entry(state: State, changed: Iterable[str]) -> bytes:
    """One journal line: the state's serial and each changed address's resource (or its removal).
    Each resource is written by pydantic's serialiser (its model_dump and then json.dumps, in Python,
    were most of an apply's time recording state)."""
    kept, dropped = [], []
    for address in dict.fromkeys(changed):
        resource = state.resources.get(address)
        if resource is None:
            dropped.append(address)
        else:
            kept.append(f"{json.dumps(address)}:{resource.model_dump_json()}")
    body = (f'{{"serial":{json.dumps(state.serial)},"set":{{{",".join(kept)}}},'
            f'"drop":{json.dumps(dropped, separators=(",", ":"))}}}').encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def records(path: Path, lineage: str, serial: int) -> list[dict[str, Any]]:
    """The whole records of the journal at `path` that continue the state (`lineage`, `serial`), in
    order; none when there is no journal or it continues another version."""
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return []
    try:
        header = json.loads(lines[0])
    except ValueError:
        return []  # cut short while it was begun: nothing was recorded in it
    if header.get("journal") != VERSION or (header.get("lineage"), header.get("serial")) != (lineage, serial):
        return []
    found = []
    for line in lines[1:-1]:  # the last piece follows the last newline: empty, or a line cut short
        checksum, _, body = line.partition(b" ")
        try:
            if int(checksum, 16) != zlib.crc32(body):
                break
            found.append(json.loads(body))
        except ValueError:
            break
    return found


def replay(state: State, record: dict[str, Any]) -> None:
    """Apply one journal record to `state`, as the executor recorded it."""
    for address, resource in record["set"].items():
        state.resources[address] = ResourceState.model_validate(resource)
    for address in record["drop"]:
        state.resources.pop(address, None)
    state.serial = record["serial"]
