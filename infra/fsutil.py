"""Atomic file writes: a reader sees the old content or the new, never half of either."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str, *, keep_backup: Path | None = None) -> None:
    """Write `text` to `path` through a temp file in the same folder, fsync, then rename.

    When `keep_backup` is given, the previous content (if any) is kept there first, also atomically.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if keep_backup is not None and path.exists():
        atomic_write_text(Path(keep_backup), path.read_text())
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


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
