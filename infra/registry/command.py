"""Run the user's CMD (chef-solo, an haproxy reload) as an argv list, never through a shell.

CMD is split with shlex, so quoting works as in a shell but `;`, `|` and `$VAR` do not: a
registry value can never become shell code. Wrap CMD in `sh -c '...'` explicitly when a shell
is really wanted.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

from infra.errors import RegistryError


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int
    seconds: float
    output: str = ""  # stdout and stderr together, when captured
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def summary(self) -> str:
        """Why it failed, in a few words: 'exit 1: [ALERT] ... unknown keyword', 'timed out after 2s'."""
        if self.timed_out:
            return f"timed out after {self.seconds:.3g}s"
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        alerts = [line for line in lines if "ALERT" in line or "error" in line.lower()]
        last = (alerts or lines)[:1]
        return f"exit {self.returncode}" + (f": {last[0][:300]}" if last else "")


def split_command(cmd: str, option: str = "--exec") -> list[str]:
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise RegistryError(f"{option} {cmd!r}: {exc}") from None
    if not argv:
        raise RegistryError(f"{option} needs a command, e.g. {option} 'chef-solo -j /etc/chef/dna.json'")
    return argv


def check_command(cmd: str, option: str = "--exec") -> list[str]:
    """CMD split, and its program found, so a missing command fails before anything happens:
    before the watch agent starts, before render writes a file it could not reload."""
    argv = split_command(cmd, option)
    if shutil.which(argv[0]) is None:
        if os.sep in argv[0] and os.path.isfile(argv[0]):
            raise RegistryError(f"{option}: {argv[0]!r} is not executable")
        raise RegistryError(f"{option}: {argv[0]!r} not found on PATH")
    return argv


def run_command(cmd: str | list[str], env: Mapping[str, str] | None = None, *, option: str = "--exec",
                capture: bool = False, timeout: float | None = None) -> CommandResult:
    """Run CMD to completion. By default with the agent's stdout/stderr, so its output lands in the
    same log; `capture` keeps the output instead (checks, whose failure is reported in one line)."""
    argv = split_command(cmd, option) if isinstance(cmd, str) else cmd
    started = time.monotonic()
    pipe = subprocess.PIPE if capture else None
    try:
        completed = subprocess.run(argv, env={**os.environ, **(env or {})}, check=False, timeout=timeout,
                                   stdout=pipe, stderr=subprocess.STDOUT if capture else None,
                                   stdin=subprocess.DEVNULL if capture else None)
    except FileNotFoundError:
        raise RegistryError(f"{option}: {argv[0]!r} not found on PATH") from None
    except PermissionError:
        raise RegistryError(f"{option}: {argv[0]!r} is not executable") from None
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        return CommandResult(argv, -1, time.monotonic() - started, output, timed_out=True)
    output = completed.stdout.decode(errors="replace") if capture and completed.stdout else ""
    return CommandResult(argv, completed.returncode, time.monotonic() - started, output)
