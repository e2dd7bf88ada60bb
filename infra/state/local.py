"""Local state: `.infra/state.json`, the previous version beside it, and a lock file."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from infra.fsutil import MiB, atomic_write_text, read_text
from infra.state.lock import Confirm, LockInfo, locked_error, unlockable
from infra.state.model import State

MAX_STATE_BYTES = 1024 * MiB  # thousands of groups take tens of MiB


def _write_lock(path: Path, info: LockInfo, flags: int) -> None:
    with os.fdopen(os.open(path, flags | os.O_WRONLY, 0o644), "w") as handle:
        handle.write(info.model_dump_json())
        handle.flush()
        os.fsync(handle.fileno())


def _put_in_place(written: Path, path: Path, info: LockInfo) -> None:
    """Link `written` to `path` (FileExistsError when taken)."""
    try:
        os.link(written, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: made, then written, the only way there
        _write_lock(path, info, os.O_CREAT | os.O_EXCL)


class LocalBackend:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name.removesuffix(".json") + ".lock")
        self.description = str(self.path)

    def read(self) -> State:
        try:
            text = read_text(self.path, limit=MAX_STATE_BYTES, what="the state")
        except FileNotFoundError:
            return State()
        return State.from_json(text, str(self.path))

    def write(self, state: State) -> None:
        atomic_write_text(self.path, state.to_json(), keep_backup=self.backup, private=True)

    def acquire(self, info: LockInfo) -> None:
        """Put the lock file in place whole: written beside it, then linked to its name, which fails
        when another run holds it. Created empty and then written, a second apply starting at that
        moment read no holder and said "locked by an unknown process ... if no apply is running,
        remove the lock" of a run that was starting."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        written = self.lock_path.with_name(f".{self.lock_path.name}.{info.id}")
        _write_lock(written, info, os.O_CREAT | os.O_TRUNC)
        try:
            _put_in_place(written, self.lock_path, info)
        except FileExistsError:
            raise locked_error(str(self.path), self._holder(),
                               f"if no apply is running, remove {self.lock_path}") from None
        finally:
            written.unlink(missing_ok=True)

    def release(self, info: LockInfo) -> None:
        holder = self._holder()
        if holder is not None and holder.id == info.id:
            self.lock_path.unlink(missing_ok=True)

    def holds(self, info: LockInfo) -> bool:
        holder = self._holder()
        return holder is not None and holder.id == info.id

    def force_unlock(self, lock_id: str, confirm: Confirm) -> LockInfo:
        holder = self._holder()
        damaged = (f"the lock file {self.lock_path} names no holder (damaged); if no apply is running, remove it"
                   if holder is None and self.lock_path.exists() else None)
        removed = unlockable(str(self.path), holder, lock_id, damaged=damaged, confirm=confirm)
        self.lock_path.unlink(missing_ok=True)
        return removed

    def _holder(self) -> LockInfo | None:
        try:
            return LockInfo.model_validate_json(self.lock_path.read_text())
        except (FileNotFoundError, ValidationError, ValueError):
            return None
