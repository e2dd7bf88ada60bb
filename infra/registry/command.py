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
from dataclasses import dataclass
from typing import Mapping

from infra.errors import RegistryError


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def split_command(cmd: str) -> list[str]:
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise RegistryError(f"--exec {cmd!r}: {exc}") from None
    if not argv:
        raise RegistryError("--exec needs a command, e.g. --exec 'chef-solo -j /etc/chef/dna.json'")
    return argv


def check_command(cmd: str) -> list[str]:
    """CMD split, and its program found, so a missing command fails before anything happens:
    before the watch agent starts, before render writes a file it could not reload."""
    argv = split_command(cmd)
    if shutil.which(argv[0]) is None:
        if os.sep in argv[0] and os.path.isfile(argv[0]):
            raise RegistryError(f"--exec: {argv[0]!r} is not executable")
        raise RegistryError(f"--exec: {argv[0]!r} not found on PATH")
    return argv


def run_command(cmd: str, env: Mapping[str, str] | None = None) -> CommandResult:
    """Run CMD to completion with the agent's stdout/stderr, so its output lands in the same log."""
    argv = split_command(cmd)
    started = time.monotonic()
    try:
        completed = subprocess.run(argv, env={**os.environ, **(env or {})}, check=False)
    except FileNotFoundError:
        raise RegistryError(f"--exec: {argv[0]!r} not found on PATH") from None
    except PermissionError:
        raise RegistryError(f"--exec: {argv[0]!r} is not executable") from None
    return CommandResult(argv, completed.returncode, time.monotonic() - started)
