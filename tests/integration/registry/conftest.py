"""A real etcd for the registry tests: started on free loopback ports with a temp data dir.

One etcd serves the whole session and every test gets its own key root, so tests stay
independent without paying etcd's start-up each time; tests that stop etcd get their own.
If etcd is not installed these tests fail (they do not skip): the registry is untested then.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.cli import main
from tests.support.etcd_server import EtcdServer, EtcdUnavailable

INFRA = str(Path(sys.executable).with_name("infra"))
RECORDER = str(Path(__file__).with_name("record_run.py"))

NODES = {
    "__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd",
                 "run_list": ["recipe[seatgeek::base-server]"]},
    "bee": {"run_list": ["recipe[seatgeek-service::api-workers]", "recipe[seatgeek-service::cronq-workers]"]},
    "cron": {"run_list": ["recipe[seatgeek-service::djjob]"]},
    "www": {"run_list": ["recipe[seatgeek::customer-web]"], "depends_on": ["api-workers"]},
}


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = _started(EtcdServer, tmp_path_factory.mktemp("etcd") / "data")
    yield server
    server.stop()


@pytest.fixture
def own_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of the test's own, for tests that stop and restart it."""
    server = _started(EtcdServer, tmp_path / "etcd-data")
    yield server
    server.stop()


def _started(kind: type[EtcdServer], data_dir: Path) -> EtcdServer:
    """A started etcd; when etcd is missing the test fails (it does not skip): the registry is untested then."""
    try:
        server = kind(data_dir)
        server.start()
    except EtcdUnavailable as exc:
        pytest.fail(str(exc))
    return server


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
