"""Files infra writes are readable as any program's would be (chef-solo may run as another user);
the state and saved plans, which hold attribute values, are their owner's alone."""

from __future__ import annotations

import os

from infra.fsutil import atomic_write_json, atomic_write_text
from infra.state.local import LocalBackend
from infra.state.model import State


def mode(path) -> int:
    return path.stat().st_mode & 0o777


def umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def test_a_new_file_gets_the_usual_mode_and_a_replaced_one_keeps_its_own(tmp_path):
    role = tmp_path / "roles" / "role-web.json"
    atomic_write_json(role, {"name": "role-web"})
    assert mode(role) == 0o666 & ~umask()  # not mkstemp's 0600
    role.chmod(0o640)
    atomic_write_json(role, {"name": "role-web", "run_list": []})
    assert mode(role) == 0o640


def test_state_and_its_backup_are_private(tmp_path):
    backend = LocalBackend(tmp_path / ".infra" / "state.json")
    state = State()
    for _ in range(2):
        state.next_version()
        backend.write(state)
    assert mode(backend.path) == mode(backend.backup) == 0o600


def test_a_private_file_stays_private_when_the_old_one_was_not(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    plan.chmod(0o644)
    atomic_write_text(plan, "{}\n", private=True)
    assert mode(plan) == 0o600
