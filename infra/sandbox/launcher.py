"""The local sandbox: a moto server on loopback, seeded with the source AMIs nodes.json names.

Everything infra does can then run on a laptop with no AWS account. The server runs in the
background; its pid, port and log live in `.infra/sandbox/` of the ops repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.errors import InfraError
from infra.fsutil import atomic_write_json
from infra.sandbox.hostile import STATS_PATH, Knobs
from infra.sandbox.server import ALARMS_ENV, HOSTILE_ENV, SECURITY_GROUPS_ENV, TARGET_GROUPS_ENV

SANDBOX_DIR = ".infra/sandbox"
SANDBOX_OWNER = "099720109477"
DISTRIBUTION = "infra-fleet"


def check_moto() -> None:
    """The sandbox is moto's server, which infra installs only as an extra: say how to get it."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise InfraError(f"the sandbox needs moto's server, which is not installed; install it with: "
                         f"pip install '{DISTRIBUTION}[sandbox]'")


def source_image(ami_id: str) -> dict:
    """A moto AMI definition (MOTO_AMIS_PATH format) for a source image named in nodes.json."""
    return {
        "ami_id": ami_id, "state": "available", "public": True, "owner_id": SANDBOX_OWNER,
        "image_location": f"infra-sandbox/{ami_id}", "root_device_type": "ebs", "root_device_name": "/dev/sda1",
        "description": "source image seeded by infra sandbox", "image_type": "machine", "architecture": "x86_64",
        "name": f"sandbox-source-{ami_id}", "virtualization_type": "hvm", "hypervisor": "xen",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    """A moto server process on 127.0.0.1, seeded with `amis`; used by the sandbox and the tests."""

    directory: Path
    port: int = 0
    pid: int = 0
    hostile: Knobs | None = None  # AWS's bad days, switched on (hostile.py)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, amis: Iterable[str], timeout: float = 30.0, security_groups: Iterable[str] = (),
              target_groups: Iterable[str] = (), alarms: Iterable[str] = ()) -> MotoServer:
        check_moto()
        self.directory.mkdir(parents=True, exist_ok=True)
        amis_path = self.directory / "amis.json"
        atomic_write_json(amis_path, [source_image(a) for a in sorted(set(amis))])
        self.port = self.port or free_port()
        env = {**os.environ, "MOTO_AMIS_PATH": str(amis_path),
               SECURITY_GROUPS_ENV: json.dumps(sorted(set(security_groups))),
               TARGET_GROUPS_ENV: json.dumps(sorted(set(target_groups))), ALARMS_ENV: json.dumps(sorted(set(alarms)))}
        env.pop(HOSTILE_ENV, None)
        if self.hostile is not None:
            env[HOSTILE_ENV] = self.hostile.to_json()
        log = open(self.directory / "moto.log", "ab")
        # moto, with the fixes in infra/sandbox/server.py (ebs AMIs, seeded security and target groups, alarms)
        process = subprocess.Popen([sys.executable, "-m", "infra.sandbox.server", "-H", "127.0.0.1",
                                    "-p", str(self.port)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
        log.close()
        self.pid = process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise InfraError(f"the moto server exited at start (code {process.returncode}); see "
                                 f"{self.directory / 'moto.log'}")
            if self.responds():
                return self
            time.sleep(0.1)
        self.stop()
        raise InfraError(f"the moto server did not answer within {timeout:.0f}s; see {self.directory / 'moto.log'}")

    def faults(self) -> dict[str, int]:
        """What the hostile layer did so far (hostile.py): requests, and each fault by its code; {} when
        it is not hostile or does not answer."""
        if self.hostile is None:
            return {}
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}{STATS_PATH}", timeout=5) as answer:
                found = json.loads(answer.read())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def responds(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if not self.pid:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.05)
        if _alive(self.pid):
            os.killpg(self.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Sandbox:
    """`infra sandbox start|stop|status`: one moto server per ops repository."""

    def __init__(self, root: Path) -> None:
        self.directory = Path(root) / SANDBOX_DIR
        self.record = self.directory / "sandbox.json"

    def running(self) -> MotoServer | None:
        try:
            data = json.loads(self.record.read_text())
            hostile = Knobs(**data["hostile"]) if data.get("hostile") else None
            server: MotoServer | None = MotoServer(self.directory, port=int(data["port"]), pid=int(data["pid"]),
                                                   hostile=hostile)
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            server = self._unrecorded()
        return server if server is not None and _alive(server.pid) and server.responds() else None

    def _unrecorded(self) -> MotoServer | None:
        """This repository's sandbox, still running after its record went with a removed .infra/:
        the server process that was given this directory's AMI list (found through /proc, Linux)."""
        wanted = f"MOTO_AMIS_PATH={self.directory / 'amis.json'}".encode()
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                if b"infra.sandbox.server" not in argv or wanted not in (proc / "environ").read_bytes().split(b"\0"):
                    continue
                return MotoServer(self.directory, port=int(argv[argv.index(b"-p") + 1]), pid=int(proc.name))
            except (OSError, ValueError, IndexError):
                continue
        return None

    def start(self, amis: Iterable[str], port: int = 0, security_groups: Iterable[str] = (),
              target_groups: Iterable[str] = (), alarms: Iterable[str] = (),
              hostile: Knobs | None = None) -> tuple[MotoServer, bool]:
        """Start the sandbox unless it runs; returns the server and whether it was started now."""
        current = self.running()
        if current is not None:
            return current, False
        server = MotoServer(self.directory, port=port, hostile=hostile).start(
            amis, security_groups=security_groups, target_groups=target_groups, alarms=alarms)
        record: dict[str, object] = {"port": server.port, "pid": server.pid}
        if hostile is not None:
            record["hostile"] = json.loads(hostile.to_json())
        atomic_write_json(self.record, record)
        return server, True

    def stop(self) -> bool:
        current = self.running()
        self.record.unlink(missing_ok=True)
        if current is None:
            return False
        current.stop()
        return True


def exports(server: MotoServer) -> str:
    return f"export AWS_ENDPOINT_URL={server.endpoint_url}"
