"""Files infra reads and writes: atomic writes (a reader sees the old content or the new, never
half of either), and reads that end in one line naming the file, whatever is at the path."""

from __future__ import annotations

import os
import posixpath
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.errors import FileError
from infra.jsondump import dumps_indented

MiB = 1024 * 1024


def read_text(path: Path | str, *, limit: int, what: str) -> str:
    """The UTF-8 text of the regular file at `path`, at most `limit` bytes.

    A FIFO or a device (`--config /dev/zero`) would block or never end, a dangling symbolic link
    would read as "no such file" somewhere else, and bytes that are not UTF-8 would surface as a
    UnicodeDecodeError far from here: each is a FileError naming `path`. A file that is not
    there raises FileNotFoundError, for the caller to say what is missing.
    """
    path = os.fspath(path)  # not a Path: a plan reads a file per resource, tens of thousands of them
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise FileError(f"{path}: is {_file_type(info.st_mode)}, not a regular file; infra reads {what} "
                            f"only from one")
        if info.st_size > limit:
            raise FileError(f"{path}: is larger than {limit // MiB} MiB; is this really {what}?")
        with open(path, "rb") as handle:  # what stat said (read(limit) would allocate `limit` bytes each time),
            data = handle.read(min(info.st_size, limit) + 1)
            if len(data) > info.st_size:  # and the rest, if it grew (replaced) since
                data += handle.read(limit + 1 - len(data))
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileError(f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist") from None
        raise
    except OSError as exc:
        raise FileError(f"{path}: cannot read: {exc.strerror or exc}; check the path and its permissions") from None
    if len(data) > limit:
        raise FileError(f"{path}: is larger than {limit // MiB} MiB; is this really {what}?")
    return decode(data, path)


def decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(f"{where}: is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def inside_repository(path: str) -> str:
    """`path` when it names a file inside the repository: relative, and not leading out of it with
    '..'. Anything else raises ValueError: a state entry or a setting (shared in S3, edited by hand)
    must never make infra read, write or delete a file elsewhere."""
    normal = posixpath.normpath(path) if path else ""
    if not path or "\0" in path or posixpath.isabs(path) or normal in (".", "..") or normal.startswith("../"):
        raise ValueError(f"{path!r} is outside the repository; infra reads and writes only files inside it "
                         f"(a relative path that does not lead out with '..')")
    return path


def atomic_write_text(path: Path, text: str, *, keep_backup: Path | None = None, private: bool = False) -> None:
    """Write `text` to `path` through a temp file in the same folder, fsync, then rename.

    When `keep_backup` is given, the previous content (if any) is kept there, also atomically: the
    old file itself becomes the backup (a hard link, so nothing is copied), then the new one takes
    its name. A crash in between leaves the old content under both names, never a half-written one.
    The file keeps the mode of the one it replaces (a new one: 0666 less the umask, as any program
    makes it: chef-solo may run as another user and read roles and dna files); a `private` one
    (state, saved plans: they hold attribute values) is its owner's alone.
    """
    path = Path(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_temp(path, text, mode=0o600 if private else None)
        try:
            if keep_backup is not None and path.exists():
                _keep_previous(path, Path(keep_backup))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _fsync_dir(path.parent)


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A write that fails (a full disk) names the file it was for: an OSError of a temp file's
    write carries no name, and "No space left on device" alone does not say where."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def write_beside(path: Path, text: str) -> Path:
    """`text` in a new, fsynced temp file in `path`'s folder: a candidate to check before it
    takes `path`'s place with `replace_with` (same folder, so that rename is atomic).

    The candidate gets the mode of the file it replaces, or a new file's usual mode (0666 less the
    umask), not the temp file's 0600: a config file that other programs read must stay readable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(_write_temp(path, text))


def replace_with(path: Path, candidate: Path) -> None:
    """Put `candidate` (from `write_beside`) in `path`'s place in one rename."""
    os.replace(candidate, path)
    _fsync_dir(Path(path).parent)


def _write_temp(path: Path, text: str, mode: int | None = None) -> str:
    """`text` in a new, fsynced temp file beside `path`; its name. It gets `mode`, or the mode of
    the file at `path`, or a new file's usual mode: never mkstemp's 0600 by accident."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode if mode is not None else _mode_of(path))
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _mode_of(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _read_umask() -> int:
    """The process's umask, read once while infra is still single-threaded (setting it to read it
    is process-wide, and another thread could make a file in between)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _keep_previous(path: Path, backup: Path) -> None:
    """Make `backup` hold what `path` holds now: a hard link where the file system has them, a copy elsewhere."""
    linked = backup.with_name(f".{backup.name}.{os.getpid()}.link")
    try:
        linked.unlink(missing_ok=True)
        os.link(path, linked)
    except OSError:
        copy = _write_temp(backup, path.read_text(), mode=_mode_of(path))
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
    """The one JSON layout infra writes: two-space indent, stable key order as given, newline
    (json.dumps(indent=2)'s bytes, written without its pure-Python encoder: jsondump.py)."""
    return dumps_indented(data) + "\n"


def atomic_write_json(path: Path, data: Any, **kwargs: Any) -> None:
    atomic_write_text(path, dump_json(data), **kwargs)
