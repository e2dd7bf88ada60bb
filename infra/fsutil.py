"""Atomic file writes: a reader sees the old content or the new, never half of either."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str, *, keep_backup: Path | None = None) -> None:
    """Write `text` to `path` through a temp file in the same folder, fsync, then rename.

    When `keep_backup` is given, the previous content (if any) is kept there, also atomically: the
    old file itself becomes the backup (a hard link, so nothing is copied), then the new one takes
    its name. A crash in between leaves the old content under both names, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, text)
    try:
        if keep_backup is not None and path.exists():
            _keep_previous(path, Path(keep_backup))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_beside(path: Path, text: str) -> Path:
    """`text` in a new, fsynced temp file in `path`'s folder: a candidate to check before it
    takes `path`'s place with `replace_with` (same folder, so that rename is atomic).

    The candidate gets the mode of the file it replaces, or a new file's usual mode (0666 less the
    umask), not the temp file's 0600: a config file that other programs read must stay readable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = Path(_write_temp(path, text))
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(candidate, mode)
    return candidate


def replace_with(path: Path, candidate: Path) -> None:
    """Put `candidate` (from `write_beside`) in `path`'s place in one rename."""
    os.replace(candidate, path)
    _fsync_dir(Path(path).parent)


def _write_temp(path: Path, text: str) -> str:
    """`text` in a new, fsynced temp file beside `path`; its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _keep_previous(path: Path, backup: Path) -> None:
    """Make `backup` hold what `path` holds now: a hard link where the file system has them, a copy elsewhere."""
    linked = backup.with_name(f".{backup.name}.{os.getpid()}.link")
    try:
        linked.unlink(missing_ok=True)
        os.link(path, linked)
    except OSError:
        copy = _write_temp(backup, path.read_text())
        os.replace(copy, backup)
        return
    try:
        os.replace(linked, backup)
    except BaseException:
        linked.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def dump_json(data: Any) -> str:
    """The one JSON layout infra writes: two-space indent, stable key order as given, newline."""
    return json.dumps(data, indent=2) + "\n"


def atomic_write_json(path: Path, data: Any, **kwargs: Any) -> None:
    atomic_write_text(path, dump_json(data), **kwargs)
