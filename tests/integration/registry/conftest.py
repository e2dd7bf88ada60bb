"""A real etcd for the registry tests: started on free loopback ports with a temp data dir.

One etcd serves the whole session and every test gets its own key root, so tests stay
independent without paying etcd's start-up each time; tests that stop etcd get their own.
If etcd is not installed these tests fail (they do not skip): the registry is untested then.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from infra.cli import main

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"
INFRA = str(Path(sys.executable).with_name("infra"))
RECORDER = str(Path(__file__).with_name("record_run.py"))

NODES = {
    "__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd",
                 "run_list": ["recipe[seatgeek::base-server]"]},
    "bee": {"run_list": ["recipe[seatgeek-service::api-workers]", "recipe[seatgeek-service::cronq-workers]"]},
    "cron": {"run_list": ["recipe[seatgeek-service::djjob]"]},
    "www": {"run_list": ["recipe[seatgeek::customer-web]"], "depends_on": ["api-workers"]},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EtcdServer:
    """One etcd member on loopback; stop() and start() again keep its ports and data."""

    def __init__(self, data_dir: Path) -> None:
        if not Path(ETCD_BINARY).exists():
            pytest.fail(f"etcd is not installed ({ETCD_BINARY} missing): install the Debian package etcd-server")
        self.data_dir = data_dir
        self.port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        # Short heartbeats make etcd's smallest lease 1 s, so TTL tests take about a second.
        self.process = subprocess.Popen(
            [ETCD_BINARY, "--name", "test", "--data-dir", str(self.data_dir),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"test={peer}", "--heartbeat-interval", "50", "--election-timeout", "500"],
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"etcd exited with {self.process.returncode}; see {log.name}")
            try:
                if requests.get(self.url + "/health", timeout=1).json().get("health") == "true":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        pytest.fail(f"etcd did not become healthy at {self.url} within 15 s; see {log.name}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of the test's own, for tests that stop and restart it."""
    server = EtcdServer(tmp_path / "etcd-data")
    server.start()
    yield server
    server.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def nodes_json(tmp_path: Path) -> Path:
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(NODES))
    return path


@pytest.fixture
def registry_root() -> str:
    return f"/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def infra(etcd_server: EtcdServer, nodes_json: Path, registry_root: str,
          capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `infra ARGS` in this process against the session etcd, under this test's key root."""

    def run(*args: str, config: Path | None = None, etcd: str | None = None) -> Result:
        argv = ["--config", str(config or nodes_json), *args]
        if args and args[0].startswith("services:"):
            argv += ["--etcd", etcd or etcd_server.url, "--etcd-prefix", registry_root]
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def spawn(nodes_json: Path, registry_root: str, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `infra ARGS` as its own process (for the long-running watch agent); stopped at teardown."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, etcd: str, config: Path | None = None) -> subprocess.Popen[str]:
        argv = [INFRA, "--config", str(config or nodes_json), *args, "--etcd", etcd, "--etcd-prefix", registry_root]
        log = open(tmp_path / f"agent-{len(started)}.log", "w")
        process = subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def wait_for() -> Callable[..., object]:
    return _wait_for


@dataclass
class Recorder:
    """CMD for the watch agent that records each run (see record_run.py)."""

    log: Path

    def command(self, seconds: float = 0.0) -> str:
        return f"{sys.executable} {RECORDER} {self.log} {seconds}"

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def runs(self) -> list[str]:
        """The INFRA_CHANGED_SERVICES of each finished or started run."""
        return [line.split(" ", 1)[1] if " " in line else "" for line in self.lines() if line.startswith("start")]


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path / "runs.log")
