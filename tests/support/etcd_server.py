"""A real etcd on free loopback ports with its own data dir, for the registry tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"


class EtcdUnavailable(RuntimeError):
    """etcd is not installed, or did not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EtcdServer:
    """One etcd member on loopback; stop() and start() again keep its ports and data."""

    def __init__(self, data_dir: Path) -> None:
        if not Path(ETCD_BINARY).exists():
            raise EtcdUnavailable(f"etcd is not installed ({ETCD_BINARY} missing): install the Debian package "
                                  f"etcd-server")
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
                raise EtcdUnavailable(f"etcd exited with {self.process.returncode}; see {log.name}")
            try:
                if requests.get(self.url + "/health", timeout=1).json().get("health") == "true":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        raise EtcdUnavailable(f"etcd did not become healthy at {self.url} within 15 s; see {log.name}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
