"""Put a newly rendered file in place safely: check the candidate, swap atomically, reload, or undo.

The order is confd's and consul-template's: the new text goes to a candidate file beside FILE;
every check command runs on the candidate (`haproxy -c -f {file}`); only a candidate that passes
replaces FILE, in one rename, so the running program never sees a file its checks refused. Then
the reload: haproxy's master-worker reload through its master CLI (confirmed by a new worker),
and/or `--exec CMD`. A failed reload puts the previous FILE back, so the file and what runs agree
and the next render tries the change again.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import InfraError, RegistryError
from infra.fsutil import replace_with, write_beside
from infra.providers.haproxy import MasterCLI, check_config, find_binary
from infra.registry.command import check_command, run_command, split_command

PLACEHOLDER = "{file}"


@dataclass(frozen=True)
class Reconfigure:
    """How a rendered file takes effect: checks on the candidate, then reloads after the swap."""

    check_cmds: tuple[str, ...] = ()  # each names the candidate as {file}
    haproxy: Path | None = None  # haproxy's master CLI socket: check with haproxy -c, reload through it
    exec_cmd: str | None = None

    def validate(self) -> None:
        """Fail before anything is rendered or written: a FILE written without its reload would read
        as "unchanged" next time, and the reload would never happen."""
        for cmd in self.check_cmds:
            if not any(PLACEHOLDER in part for part in split_command(cmd, "--check-cmd")):
                raise RegistryError(f"--check-cmd {cmd!r} must name the candidate file as {PLACEHOLDER}, "
                                    f"e.g. --check-cmd 'haproxy -c -f {PLACEHOLDER}'")
            check_command(cmd, "--check-cmd")
        if self.haproxy is not None:
            find_binary()
        if self.exec_cmd is not None:
            check_command(self.exec_cmd)

    def steps(self, out: Path, candidate: str) -> list[str]:
        """What would run, in order, for a dry run."""
        lines = [f"check: {' '.join(_with_file(cmd, candidate))}" for cmd in self.check_cmds]
        if self.haproxy is not None:
            lines.append(f"check: haproxy -c -f {candidate}")
        lines.append(f"replace {out} with the candidate (one rename)")
        if self.haproxy is not None:
            lines.append(f"reload haproxy through its master CLI at {self.haproxy} (a new worker takes the "
                         f"listening sockets; the old one finishes its requests)")
        if self.exec_cmd is not None:
            lines.append(f"run: {self.exec_cmd}")
        return lines


@dataclass(frozen=True)
class Applied:
    path: Path
    changed: bool
    ran: list[str] = field(default_factory=list)  # what ran after the swap, in words


def apply_text(out: Path, text: str, how: Reconfigure,
               progress: Callable[[str], None] | None = None) -> Applied:
    """Make FILE hold `text`, checked and reloaded; nothing happens when it already does."""
    out = Path(out)
    before = read_text(out)
    if before == text:
        return Applied(out, False)
    candidate = _candidate(out, text)
    try:
        _check(out, candidate, how)
        replace_with(out, candidate)
    finally:
        candidate.unlink(missing_ok=True)
    try:
        return Applied(out, True, _reload(out, how, progress))
    except InfraError as failure:
        if before is None:
            out.unlink(missing_ok=True)
        else:
            _write(out, before)
        raise RegistryError(f"{failure}; put the previous {out} back, so the next render tries again") from None


def dry_run(out: Path, text: str, how: Reconfigure) -> list[str]:
    """What `apply_text` would do, in words; nothing is written or run."""
    before = read_text(Path(out))
    if before == text:
        return [f"{out} is unchanged; nothing would run"]
    if before is None:
        change = f"{out} would be created ({len(text.splitlines())} lines)"
    else:
        diff = list(difflib.unified_diff(before.splitlines(), text.splitlines(), lineterm="", n=0))
        added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
        change = f"{out} would change ({added} line(s) added, {removed} removed)"
    candidate = str(Path(out).with_name(f".{Path(out).name}.CANDIDATE.tmp"))
    return [change, *(f"would {step}" for step in how.steps(Path(out), candidate))]


def read_text(path: Path) -> str | None:
    """The file's text; None when it is missing or unreadable (it will be overwritten)."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _candidate(out: Path, text: str) -> Path:
    try:
        return write_beside(out, text)
    except OSError as exc:
        raise RegistryError(f"cannot write {out}: {exc.strerror or exc}") from None


def _check(out: Path, candidate: Path, how: Reconfigure) -> None:
    for cmd in how.check_cmds:
        result = run_command(_with_file(cmd, str(candidate)), option="--check-cmd", capture=True)
        if not result.ok:
            raise RegistryError(f"--check-cmd {cmd!r} refused the new {out} ({result.summary()}); "
                                f"{out} was left as it was")
    if how.haproxy is not None:
        verdict = check_config(candidate)
        if not verdict.ok:
            raise RegistryError(f"haproxy refused the new {out} ({verdict.message}); {out} was left as it "
                                f"was and haproxy keeps serving it")


def _reload(out: Path, how: Reconfigure, progress: Callable[[str], None] | None) -> list[str]:
    ran: list[str] = []
    if how.haproxy is not None:
        master = MasterCLI(how.haproxy)
        if master.answers():
            workers = master.reload(progress=progress).workers
            ran.append(f"reloaded haproxy (worker {', '.join(map(str, workers))})")
        else:
            ran.append(f"no haproxy master at {how.haproxy} yet: haproxy reads {out} when it starts")
    if how.exec_cmd is not None:
        command = run_command(how.exec_cmd)
        if not command.ok:
            raise RegistryError(f"--exec {' '.join(command.argv)!r} exited {command.returncode}")
        ran.append(f"ran {how.exec_cmd}")
    return ran


def _with_file(cmd: str, path: str) -> list[str]:
    return [part.replace(PLACEHOLDER, path) for part in split_command(cmd, "--check-cmd")]


def _write(path: Path, text: str) -> None:
    """Put the previous text back, keeping the file's mode."""
    replace_with(path, _candidate(path, text))
