"""The state journal: records replayed in order, a torn last record ignored, a compaction that
leaves the state readable whatever moment it stops at, and bytes written that grow with the fleet."""

import json
import os
import time
import zlib

import pytest

from infra.errors import StateError
from infra.state import journal
from infra.state.journal import JournaledBackend
from infra.state.local import LocalBackend
from infra.state.model import ResourceState


class CountingBackend(LocalBackend):
    """A local backend that counts its whole writes and their bytes."""

    def __init__(self, path):
        super().__init__(path)
        self.writes, self.bytes = 0, 0

    def write(self, state):
        super().write(state)
        self.writes += 1
        self.bytes += len(state.to_json())


def resource(group, value=1):
    return ResourceState(kind="role", group=group, attributes={"value": value, "run_list": [f"role[{group}]"] * 5})


def journaled(tmp_path, **options):
    inner = CountingBackend(tmp_path / "state.json")
    return JournaledBackend(inner, tmp_path / "state.json.journal", **options), inner


def started(tmp_path, **options):
    """A journaled backend whose state was written once (a journal continues a written state)."""
    backend, inner = journaled(tmp_path, **options)
    state = backend.read()
    state.next_version()
    state.resources["role.base"] = resource("base")
    backend.record(state, ["role.base"])  # never written: written whole
    assert inner.writes == 1
    return backend, inner, backend.read()


def batch(backend, state, *changes):
    """One batch of finished actions: (address, resource or None to forget it)."""
    state.next_version()
    for address, found in changes:
        if found is None:
            state.resources.pop(address, None)
        else:
            state.resources[address] = found
    backend.record(state, [address for address, _ in changes])


def test_a_batch_is_appended_not_written_whole_and_reading_replays_it_in_order(tmp_path):
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))
    batch(backend, state, ("role.b", resource("b")), ("role.base", None))
    batch(backend, state, ("role.a", resource("a", value=2)), ("role.c", resource("c")))
    assert inner.writes == 1 and backend.path.exists()

    read = JournaledBackend(CountingBackend(inner.path), backend.path).read()
    assert read.serial == state.serial == 4 and read.lineage == state.lineage
    assert read.to_json() == state.to_json()  # the same resources, in the same order, byte for byte
    assert read.resources["role.a"].attributes["value"] == 2 and "role.base" not in read.resources


def test_the_end_of_an_apply_writes_the_journal_into_the_state_and_removes_it(tmp_path):
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))
    backend.flush(state)
    assert inner.writes == 2 and not backend.path.exists()
    assert LocalBackend(inner.path).read().to_json() == state.to_json()


@pytest.mark.parametrize("cut", [1, 10, -2])
def test_a_record_cut_short_by_a_crash_is_ignored_with_what_it_held(tmp_path, cut):
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))
    finished = state.to_json()
    batch(backend, state, ("role.b", resource("b")))
    whole = backend.path.read_bytes()
    last = whole.rstrip(b"\n").rfind(b"\n") + 1
    backend.path.write_bytes(whole[:last + cut] if cut > 0 else whole[:cut])  # part of the last line, no newline

    read = JournaledBackend(LocalBackend(inner.path), backend.path).read()
    assert read.to_json() == finished and "role.b" not in read.resources


def test_a_record_whose_checksum_does_not_match_ends_the_replay(tmp_path):
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))
    batch(backend, state, ("role.b", resource("b")))
    lines = backend.path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"group":"b"', b'"group":"x"')  # torn inside: the same length, other bytes
    backend.path.write_bytes(b"\n".join(lines))

    read = JournaledBackend(LocalBackend(inner.path), backend.path).read()
    assert set(read.resources) == {"role.base", "role.a"}


def test_a_journal_of_another_state_version_is_not_replayed(tmp_path):
    # A compaction wrote the state and stopped before it removed the journal: replaying it again
    # would count its records twice (here: take back a later change).
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))
    journal_text = backend.path.read_bytes()
    batch(backend, state, ("role.a", resource("a", value=3)))
    inner.write(state)  # the compaction's write, and then a crash
    backend.path.write_bytes(journal_text)

    read = JournaledBackend(LocalBackend(inner.path), backend.path).read()
    assert read.serial == state.serial and read.resources["role.a"].attributes["value"] == 3


def test_a_compaction_that_fails_leaves_the_journal_and_the_state_readable(tmp_path, monkeypatch):
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("infra.fsutil.os.replace", broken_replace)
    with pytest.raises(OSError):
        backend.flush(state)
    monkeypatch.undo()
    read = JournaledBackend(LocalBackend(inner.path), backend.path).read()
    assert read.to_json() == state.to_json()


def test_an_apply_after_a_crash_writes_the_replayed_state_whole_before_a_new_journal(tmp_path):
    backend, inner, state = started(tmp_path)
    batch(backend, state, ("role.a", resource("a")))  # then a kill -9: the journal stays

    again = JournaledBackend(CountingBackend(inner.path), backend.path)
    state = again.read()
    batch(again, state, ("role.b", resource("b")))
    assert again.inner.writes == 1  # the replayed journal, written whole; then a fresh journal
    batch(again, state, ("role.c", resource("c")))
    read = JournaledBackend(LocalBackend(inner.path), backend.path).read()
    assert set(read.resources) == {"role.base", "role.a", "role.b", "role.c"} and read.serial == state.serial


def test_bytes_written_for_the_state_grow_with_the_fleet_not_its_square(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "MIN_COMPACT_BYTES", 0)  # compacted by size alone, even this small
    appended = []
    entry = journal.entry
    monkeypatch.setattr(journal, "entry", lambda *args: appended.append(len(line := entry(*args))) or line)
    ratios = []
    for size in (200, 800):
        appended.clear()
        folder = tmp_path / str(size)
        folder.mkdir()
        backend, inner, state = started(folder)
        for index in range(size):  # one action a batch: the worst case
            batch(backend, state, (f"role.g{index}", resource(f"g{index}")))
        backend.flush(state)
        final = len(state.to_json())
        ratios.append((inner.bytes + sum(appended)) / final)
    assert all(ratio < 8 for ratio in ratios), ratios  # a small multiple of the final state, at either size


def test_a_remote_state_is_written_at_least_every_interval_while_an_apply_records(tmp_path):
    now = [0.0]
    backend, inner, state = started(tmp_path, every=20.0, clock=lambda: now[0])
    batch(backend, state, ("role.a", resource("a")))
    assert inner.writes == 1
    now[0] = 21.0
    batch(backend, state, ("role.b", resource("b")))
    assert inner.writes == 2 and not backend.path.exists()


def test_what_is_recorded_reaches_the_disk_within_the_interval_not_with_an_fsync_each(tmp_path, monkeypatch):
    """Each record is handed to the system at once (a kill -9 keeps it); the disk gets it within
    `sync_every`, even when nothing is recorded after it (an apply waiting on a roll)."""
    synced: list[int] = []  # the journal's size at each fsync
    monkeypatch.setattr(journal.os, "fsync", lambda fd: synced.append(os.fstat(fd).st_size))
    backend, _, state = started(tmp_path, sync_every=0.2, clock=lambda: 0.0)
    for index in range(50):
        batch(backend, state, (f"role.g{index}", resource(f"g{index}")))
    size = backend.path.stat().st_size
    assert {f"role.g{index}" for index in range(50)} <= set(journaled(tmp_path)[0].read().resources)  # at once
    deadline = time.monotonic() + 10
    while (not synced or max(synced) < size) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert synced and max(synced) == size
    assert len(synced) < 10, synced  # not one per record


def test_a_damaged_record_is_one_clear_line(tmp_path):
    backend, inner, state = started(tmp_path)
    header = json.dumps({"journal": journal.VERSION, "lineage": state.lineage, "serial": state.serial})
    body = b'{"serial":%d,"set":{"role.a":{"kind":3}},"drop":[]}' % (state.serial + 1)  # well formed, no resource
    backend.path.write_bytes(header.encode() + b"\n%08x %s\n" % (zlib.crc32(body), body))
    with pytest.raises(StateError, match=r"record 1 of the state's journal is damaged"):
        JournaledBackend(LocalBackend(inner.path), backend.path).read()


def test_a_journal_cut_at_any_byte_replays_the_records_before_the_cut_and_never_fails(tmp_path):
    backend, inner, state = started(tmp_path)
    versions = [state.to_json()]
    for name in ("a", "b", "c"):
        batch(backend, state, (f"role.{name}", resource(name)))
        versions.append(state.to_json())
    whole = backend.path.read_bytes()
    ends = [index + 1 for index, byte in enumerate(whole) if byte == ord("\n")]  # after the header and each record
    for cut in range(len(whole) + 1):
        backend.path.write_bytes(whole[:cut])
        read = JournaledBackend(LocalBackend(inner.path), backend.path).read()
        whole_records = max(sum(1 for end in ends if end <= cut) - 1, 0)
        assert read.to_json() == versions[whole_records], cut
