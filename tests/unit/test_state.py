"""State files: atomic writes with the previous version kept, and clear errors for bad files."""

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from infra.errors import StateError
from infra.state.local import LocalBackend
from infra.state.model import ResourceState, State


def test_no_state_yet_reads_as_empty_and_gets_a_lineage_on_first_write(tmp_path):
    backend = LocalBackend(tmp_path / ".infra" / "state.json")
    state = backend.read()
    assert state.serial == 0 and state.lineage == "" and not state.resources
    state.next_version()
    backend.write(state)
    again = backend.read()
    assert again.serial == 1 and again.lineage and again.lineage == state.lineage


def test_each_write_keeps_the_previous_version_and_leaves_no_temp_files(tmp_path):
    backend = LocalBackend(tmp_path / "state.json")
    state = State()
    for serial in (1, 2):
        state.next_version()
        state.resources[f"role.g{serial}"] = ResourceState(kind="role", group=f"g{serial}")
        backend.write(state)
    assert json.loads(backend.backup.read_text())["serial"] == 1
    assert json.loads(backend.path.read_text())["serial"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.backup"]


def test_a_failed_write_leaves_the_old_state_whole(tmp_path, monkeypatch):
    backend = LocalBackend(tmp_path / "state.json")
    state = State()
    state.next_version()
    backend.write(state)
    before = backend.path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("infra.fsutil.os.replace", broken_replace)
    state.next_version()
    with pytest.raises(OSError):
        backend.write(state)
    assert backend.path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file or link left behind


def test_the_backup_is_a_copy_where_the_file_system_has_no_hard_links(tmp_path, monkeypatch):
    backend = LocalBackend(tmp_path / "state.json")
    state = State()
    state.next_version()
    backend.write(state)

    def no_links(src, dst):
        raise OSError("operation not permitted")

    monkeypatch.setattr("infra.fsutil.os.link", no_links)
    state.next_version()
    backend.write(state)
    assert json.loads(backend.backup.read_text())["serial"] == 1
    assert json.loads(backend.path.read_text())["serial"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.backup"]


@pytest.mark.parametrize("content, expected", [
    ("{not json", "state is not valid JSON"),
    ('{"format": 99, "serial": 1}', "format 99 is newer than this infra understands"),
    ('{"serial": "many"}', "state is damaged at serial"),
    ("[]", "must be a JSON object"),
])
def test_damaged_or_newer_state_is_a_clear_error_and_the_backup_is_untouched(tmp_path, content, expected):
    backend = LocalBackend(tmp_path / "state.json")
    backend.path.write_text(content)
    backend.backup.write_text('{"serial": 1}')
    with pytest.raises(StateError, match=expected):
        backend.read()
    assert backend.backup.read_text() == '{"serial": 1}'


def test_a_lock_whose_process_is_gone_on_this_host_is_called_stale(tmp_path):
    import subprocess
    import sys

    from infra.errors import StateLockedError
    from infra.state.lock import LockInfo

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = LockInfo(operation="apply", pid=int(finished.stdout))
    assert dead.holder_is_gone()
    assert not LockInfo(operation="apply").holder_is_gone()  # this very process
    assert not LockInfo(operation="apply", pid=dead.pid, who="ops@another-host").holder_is_gone()

    backend = LocalBackend(tmp_path / "state.json")
    backend.acquire(dead)
    with pytest.raises(StateLockedError, match=f"lock is stale: run infra state unlock {dead.id}"):
        backend.acquire(LockInfo(operation="apply"))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10)


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.builds(
    ResourceState, kind=st.sampled_from(["ami", "asg", "role"]), group=st.text(max_size=8),
    attributes=st.dictionaries(st.text(max_size=6), _json_values, max_size=3),
    outputs=st.dictionaries(st.text(max_size=6), _json_values, max_size=2),
    depends_on=st.lists(st.text(max_size=8), max_size=2), protect=st.booleans()), max_size=4))
def test_the_state_text_is_pydantics_own_whatever_it_holds(resources):
    state = State(lineage="l\u00e9", serial=3, owner="o", resources=resources)
    assert state.to_json() == state.model_dump_json(indent=2) + "\n"


_finite_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
_records = st.fixed_dictionaries({
    "kind": st.sampled_from(["ami", "asg"]) | _finite_values, "group": st.text(max_size=4) | _finite_values,
    "attributes": st.dictionaries(st.text(max_size=4), _finite_values, max_size=2) | _finite_values,
    "outputs": st.dictionaries(st.text(max_size=4), _finite_values, max_size=2) | _finite_values,
    "depends_on": st.lists(st.text(max_size=4) | _finite_values, max_size=2) | _finite_values,
    "protect": st.booleans() | _finite_values,
    "made_at": st.just("2026-12-07T20:00:00Z") | _finite_values,
    "extra": _finite_values,
}).flatmap(lambda record: st.sets(st.sampled_from(sorted(record)), max_size=8).map(
    lambda left_out: {key: value for key, value in record.items() if key not in left_out}))


@given(st.dictionaries(st.text(max_size=6), _records, max_size=3))
def test_a_state_reads_as_pydantic_reads_it_whatever_its_resources_hold(resources):
    # a state as infra writes it is read without pydantic's copies; anything else as pydantic reads it
    text = json.dumps({"format": 2, "lineage": "l", "serial": 1, "owner": "o", "resources": resources})
    try:
        expected = State.model_validate(json.loads(text))
    except ValidationError:
        with pytest.raises(StateError, match="state is damaged at resources"):
            State.from_json(text, "state.json")
        return
    read = State.from_json(text, "state.json")
    assert read == expected
    assert read.to_json() == expected.to_json()
    for resource in read.resources.values():
        assert type(resource) is ResourceState and resource.model_fields_set == set(ResourceState.model_fields)
        with pytest.raises(ValidationError):  # taken as read, and still frozen
            resource.kind = "x"


def test_a_state_infra_wrote_is_read_as_written_and_an_older_one_still_reads():
    state = State(lineage="l", serial=1, owner="o", resources={"asg.web": ResourceState(
        kind="asg", group="web", attributes={"tags": {"a": "b"}}, outputs={"name": "web-1"}, depends_on=["x"])})
    assert State.from_json(state.to_json(), "state.json") == state
    older = json.loads(state.to_json())
    del older["resources"]["asg.web"]["protect"]  # written before `protect` was
    assert State.from_json(json.dumps(older), "state.json").resources["asg.web"].protect is False


def test_the_state_text_follows_every_replaced_added_and_removed_resource():
    state = State(resources={"role.a": ResourceState(kind="role", group="a", attributes={"x": [1, {"y": "\u2060"}]})})
    first = state.to_json()
    state.resources["role.a"] = ResourceState(kind="role", group="a", attributes={"x": 2})
    state.resources["ami.b"] = ResourceState(kind="ami", group="b", outputs={"image_id": "ami-1"})
    assert state.to_json() != first and state.to_json() == state.model_dump_json(indent=2) + "\n"
    del state.resources["role.a"]
    state.next_version()
    assert state.to_json() == state.model_dump_json(indent=2) + "\n"
    state.resources.clear()
    assert state.to_json() == state.model_dump_json(indent=2) + "\n"
    assert State.from_json(state.to_json(), "state.json") == state


def test_a_recorded_resource_is_replaced_never_changed_in_place():
    recorded = ResourceState(kind="role", group="a")
    with pytest.raises(ValidationError):
        recorded.protect = True


def test_unlock_refuses_a_holder_still_running_on_this_host_and_asks_about_any_other(tmp_path):
    from infra.state.lock import LockInfo

    backend = LocalBackend(tmp_path / "state.json")
    alive = LockInfo(operation="apply")  # this very process, on this host
    backend.acquire(alive)
    asked: list[str] = []
    with pytest.raises(StateError, match=f"pid {alive.pid}.*still running on this host: the lock is not removed"):
        backend.force_unlock(alive.id, lambda holder: asked.append(holder.id))
    assert backend.holds(alive) and asked == []

    backend.lock_path.unlink()
    elsewhere = LockInfo(operation="apply", who="ops@ci-7", pid=os.getpid())
    backend.acquire(elsewhere)
    assert backend.force_unlock(elsewhere.id, lambda holder: asked.append(holder.id)) == elsewhere
    assert asked == [elsewhere.id] and not backend.lock_path.exists()


def test_a_pid_reused_since_the_lock_was_taken_is_not_its_holder():
    from infra.state.lock import LockInfo

    before_this_process = LockInfo(operation="apply", created="2001-01-01T00:00:00+00:00")
    assert not before_this_process.holder_is_alive() and not before_this_process.holder_is_gone()
    assert LockInfo(operation="apply").holder_is_alive()


def test_an_unlock_that_is_not_confirmed_leaves_the_lock(tmp_path):
    from infra.state.lock import LockInfo

    backend = LocalBackend(tmp_path / "state.json")
    holder = LockInfo(operation="apply", who="ops@ci-7")
    backend.acquire(holder)

    def refuse(holder):
        raise StateError("not confirmed")

    with pytest.raises(StateError, match="not confirmed"):
        backend.force_unlock(holder.id, refuse)
    assert backend.holds(holder)


class LosingBackend(LocalBackend):
    """A backend whose lock was lost as the run let go of it (an S3 lock object that changed hands)."""

    def release(self, info):
        from infra.state.lock import lock_lost_at_release
        super().release(info)
        raise lock_lost_at_release(self.description, info)


def test_a_lock_lost_at_release_is_told_unless_the_run_failed_already(tmp_path):
    from infra.state.backend import locked
    from infra.state.lock import LockLostError

    backend = LosingBackend(tmp_path / "state.json")
    with pytest.raises(LockLostError, match="was removed while this run held it .*, as this run let go of it"):
        with locked(backend, "apply"):
            pass
    with pytest.raises(StateError, match="^the apply's own error$"):  # not hidden by the lost lock
        with locked(backend, "apply"):
            raise StateError("the apply's own error")
    assert not backend.lock_path.exists()  # released both times


class LockTable:
    """A DynamoDB client whose DeleteItem fails with `code` (None: succeeds)."""

    def __init__(self, code):
        self.code = code

    def delete_item(self, **_):
        import botocore.exceptions

        if self.code:
            raise botocore.exceptions.ClientError({"Error": {"Code": self.code, "Message": "as the test says"}},
                                                  "DeleteItem")


@pytest.mark.parametrize("code", [None, "ConditionalCheckFailedException"])
def test_a_dynamodb_lock_lets_go_quietly_when_it_is_gone_or_another_run_s(code):
    from infra.state.lock import LockInfo
    from infra.state.s3_locks import DynamoDBLock

    DynamoDBLock(LockTable(code), "infra-locks", "ops-state", "prod.json").release(LockInfo(operation="apply"))


def test_a_dynamodb_lock_that_cannot_be_let_go_says_so_in_one_line():
    from infra.errors import ProviderError
    from infra.state.lock import LockInfo
    from infra.state.s3_locks import DynamoDBLock

    lock = DynamoDBLock(LockTable("AccessDeniedException"), "infra-locks", "ops-state", "prod.json")
    with pytest.raises(ProviderError) as raised:  # was swallowed: the lock stayed, unsaid
        lock.release(LockInfo(operation="apply"))
    assert str(raised.value) == ("unlocking state in DynamoDB table infra-locks: AccessDeniedException: as the test "
                                 "says")


def test_a_failed_command_s_own_error_is_told_even_when_its_lock_cannot_be_let_go(tmp_path):
    from infra.errors import ProviderError
    from infra.state.backend import locked

    class Stuck(LocalBackend):
        def release(self, info):
            raise ProviderError("unlocking state in DynamoDB table infra-locks: ThrottlingException: Rate exceeded")

    with pytest.raises(StateError, match="the command's own"):
        with locked(Stuck(tmp_path / "state.json"), "apply"):
            raise StateError("the command's own error")
    with pytest.raises(ProviderError, match="ThrottlingException"):  # after a command that went well: said
        with locked(Stuck(tmp_path / "other.json"), "apply"):
            pass


def test_a_lock_file_is_never_there_without_its_holder(tmp_path, monkeypatch):
    """A second apply starting while the first takes the lock reads who holds it: the file appears whole
    (it was created empty, then written: read in between, it named an unknown process)."""
    from infra.state import local
    from infra.state.lock import LockInfo

    backend = LocalBackend(tmp_path / "state.json")
    seen_while_writing = []
    fsync = local.os.fsync
    monkeypatch.setattr(local.os, "fsync", lambda fd: (seen_while_writing.append(backend.lock_path.exists()),
                                                       fsync(fd)))
    info = LockInfo(operation="apply")
    backend.acquire(info)
    assert seen_while_writing == [False]  # written before it is in place
    assert backend.holds(info) and [p.name for p in tmp_path.iterdir()] == ["state.lock"]  # nothing left beside


def test_a_lock_file_is_taken_where_there_are_no_hard_links(tmp_path, monkeypatch):
    from infra.state import local
    from infra.state.lock import LockInfo

    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(local.os, "link", no_links)
    backend = LocalBackend(tmp_path / "state.json")
    first, second = LockInfo(operation="apply"), LockInfo(operation="apply")
    backend.acquire(first)
    with pytest.raises(StateError, match="is locked by"):
        backend.acquire(second)
    assert backend.holds(first) and [p.name for p in tmp_path.iterdir()] == ["state.lock"]
