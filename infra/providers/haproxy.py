"""haproxy: its binary (check a config, start) and its master CLI (reload, what the worker serves).

The only module that knows haproxy. infra drives haproxy in master-worker mode (`-W`, what
Debian's systemd unit runs: `haproxy -Ws -f /etc/haproxy/haproxy.cfg -S /run/haproxy-master.sock`):
a reload asks the master to re-execute itself on the new file; it passes the listening sockets
to the new worker (`-x sockpair@...`, automatic since haproxy 2.x), so no connection is refused,
and the old worker stops accepting, finishes what it has in flight, and exits.

A reload is confirmed, not assumed: the master CLI's `show proc` must list a new worker. If the
master could not load the file it keeps the old worker serving and counts a failed reload, which
is reported.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.errors import ProviderError

PROGRESS_EVERY = 10.0  # seconds between "still waiting" lines
ALERT_PREFIX = re.compile(r"^\[ALERT\]\s*\(\d+\)\s*:\s*(config\s*:\s*)?")  # "[ALERT]    (23026) : config : "
REEXEC_WINDOW = 2.0  # seconds a refused master CLI connection is retried (a reload re-executes the master)


class HAProxyError(ProviderError):
    """haproxy is missing, refused a configuration, or its master did not answer or reload."""


def find_binary() -> str:
    """The haproxy program; Debian puts it in /usr/sbin, which a non-root PATH may leave out."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if found is None:
        raise HAProxyError("haproxy not found on PATH or in /usr/sbin: install Debian's haproxy package "
                           "(apt-get install haproxy, or scripts/system-deps.sh)")
    return found


@dataclass(frozen=True)
class ConfigCheck:
    ok: bool
    message: str  # haproxy's first ALERT line when it refused the file


def check_config(path: Path, binary: str | None = None, timeout: float = 60.0) -> ConfigCheck:
    """`haproxy -c -f PATH`: would haproxy load this file?"""
    argv = [binary or find_binary(), "-c", "-f", str(path)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return ConfigCheck(False, f"haproxy -c took longer than {timeout:g}s")
    if done.returncode == 0:
        return ConfigCheck(True, "")
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    alerts = [line for line in lines if "[ALERT]" in line] or lines or [f"exit {done.returncode}"]
    return ConfigCheck(False, ALERT_PREFIX.sub("", alerts[0])[:400])


@dataclass(frozen=True)
class Processes:
    """What the master's `show proc` says: its pid, its reload counters, its current workers."""

    master: int
    reloads: int
    failed: int
    workers: tuple[int, ...]


@dataclass(frozen=True)
class ServerState:
    backend: str
    name: str
    address: str
    port: int
    up: bool  # haproxy's operational state is "running"


class MasterCLI:
    """haproxy's master CLI, a unix socket given by `-S` (Debian: /run/haproxy-master.sock)."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path, self.timeout = Path(path), timeout

    def command(self, text: str) -> str:
        """Send one command and read the answer (the master keeps the connection open otherwise).

        A refused or dropped connection, or no answer at all, is tried again for a moment: while
        the master re-executes itself for a reload, its socket exists but nobody accepts on it,
        and a connection it had is dropped.
        """
        deadline = time.monotonic() + REEXEC_WINDOW
        while True:
            try:
                answer = self._command(text)
                if answer.strip() or time.monotonic() > deadline:
                    return answer
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as exc:
                if time.monotonic() > deadline:
                    raise self._absent(exc) from None
            time.sleep(0.02)

    def _command(self, text: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.path))
                sock.sendall(f"{text}; quit\n".encode())
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except TimeoutError:
                raise HAProxyError(f"haproxy's master CLI at {self.path} did not answer within "
                                   f"{self.timeout:g}s") from None
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
                raise
            except OSError as exc:
                raise self._absent(exc) from None
        return b"".join(chunks).decode(errors="replace")

    def _absent(self, exc: OSError) -> HAProxyError:
        return HAProxyError(f"no haproxy master answers at {self.path} ({exc.strerror or exc}); "
                            f"start haproxy in master-worker mode with -S {self.path}")

    def answers(self) -> bool:
        try:
            self.processes()
        except HAProxyError:
            return False
        return True

    def processes(self) -> Processes:
        return parse_processes(self.command("show proc"), self.path)

    def reload(self, timeout: float = 60.0, progress: Callable[[str], None] | None = None) -> Processes:
        """Reload on the file haproxy was started with, and wait for the new worker; the new processes."""
        before = self.processes()
        started = time.monotonic()
        try:
            self._command("reload")  # once: the master re-executes, and the connection just closes
        except (HAProxyError, OSError):
            pass  # it may close before anything is read; the counters below tell what happened
        said = started
        while True:
            time.sleep(0.01)
            try:
                now = self.processes()
            except HAProxyError:  # the master is re-executing and not listening yet
                now = None
            if now is not None and set(now.workers) - set(before.workers):
                return now
            if now is not None and now.reloads > before.reloads and now.failed > 0:
                raise HAProxyError(f"haproxy's master could not load the new configuration (reload {now.reloads}, "
                                   f"{now.failed} failed); the previous worker keeps serving; see haproxy's log")
            waited = time.monotonic() - started
            if waited > timeout:
                raise HAProxyError(f"haproxy started no new worker within {timeout:g}s of a reload through "
                                   f"{self.path}; the previous worker keeps serving")
            if progress is not None and time.monotonic() - said >= PROGRESS_EVERY:
                said = time.monotonic()
                progress(f"waiting for haproxy's new worker ({waited:.0f}s)")

    def servers(self, backend: str | None = None) -> list[ServerState]:
        """The servers the current worker has, with their state (`show servers state`)."""
        answer = self.command("@1 show servers state" + (f" {backend}" if backend else ""))
        return parse_servers(answer)

    def has_server(self, backend: str, name: str) -> bool:
        """Whether the current worker has server NAME in BACKEND: one cheap question, for polling."""
        answer = self.command(f"@1 get weight {backend}/{name}").strip()
        return bool(answer) and answer[0].isdigit()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop haproxy: the master and its workers (SIGTERM), and wait for the master to go."""
        try:
            master = self.processes().master
        except HAProxyError:
            return
        os.kill(master, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(master) and time.monotonic() < deadline:
            time.sleep(0.05)


def start(config: Path, master_socket: Path, *, pidfile: Path | None = None, log: Path | None = None,
          binary: str | None = None, timeout: float = 30.0) -> MasterCLI:
    """Start haproxy in master-worker mode, in the background, and wait until a worker serves."""
    master_socket = Path(master_socket).absolute()  # haproxy reads a relative one as HOST:PORT
    argv = [binary or find_binary(), "-W", "-D", "-S", str(master_socket), "-f", str(config)]
    if pidfile is not None:
        argv += ["-p", str(pidfile)]
    output = open(log, "ab") if log is not None else subprocess.DEVNULL
    try:
        done = subprocess.run(argv, stdout=output, stderr=output, stdin=subprocess.DEVNULL, timeout=timeout)
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]
    if done.returncode != 0:
        raise HAProxyError(f"haproxy -W -f {config} exited {done.returncode}" + (f"; see {log}" if log else ""))
    cli = MasterCLI(master_socket)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cli.processes().workers:
                return cli
        except HAProxyError:
            pass
        time.sleep(0.05)
    raise HAProxyError(f"haproxy started but its master CLI at {master_socket} showed no worker within {timeout:g}s")


def parse_processes(text: str, where: Path | str = "the master CLI") -> Processes:
    """Read `show proc`: the master's line, then the current workers up to the next `#` section."""
    master = reloads = failed = 0
    workers: list[int] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.strip("# ").split()[0] if line.strip("# ") else ""
            continue
        fields = line.split()
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        if fields[1] == "master":
            master, reloads = int(fields[0]), int(fields[2])
            if "[failed:" in line:
                failed = int(line.split("[failed:")[1].split("]")[0].strip() or 0)
        elif fields[1] == "worker" and section == "workers":
            workers.append(int(fields[0]))
    if not master:
        raise HAProxyError(f"{where} answered something that is not haproxy's `show proc`: {text[:200]!r}")
    return Processes(master, reloads, failed, tuple(workers))


def parse_servers(text: str) -> list[ServerState]:
    """Read `show servers state`: one line per server after a version line and a `#` header."""
    servers = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 19 or line.startswith("#"):
            continue
        servers.append(ServerState(backend=fields[1], name=fields[3], address=fields[4],
                                   port=int(fields[18]) if fields[18].isdigit() else 0, up=fields[5] == "2"))
    return servers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
