"""What the haproxy tests and benchmarks share: backends to proxy to, and traffic through haproxy.

`Backends` runs tests/support/http_backends.py (one process, one loopback port per name);
`Traffic` sends requests through haproxy from several threads the whole time, some on keep-alive
connections and some on a new connection per request, and records every answer, so a test can
count the requests that failed during any stretch of time and see which backend answered.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BACKENDS = str(Path(__file__).with_name("http_backends.py"))


class Backends:
    def __init__(self, control: Path, names: list[str], log: Path) -> None:
        self.control, self.names, self.log = control, names, log
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30.0) -> Backends:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen([sys.executable, BACKENDS, str(self.control), *self.names],
                                            stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            if line.strip() == "ready":
                return self
            name, port = line.split()
            self.ports[name] = int(port)
            if time.monotonic() > deadline:
                break
        self.kill()
        raise RuntimeError(f"the backends {', '.join(self.names)} did not start; see {self.log}")

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def status_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/status"

    def fail(self, name: str) -> None:
        """Make NAME's /status answer 500 (the backend still serves every other path)."""
        (self.control / f"{name}.down").touch()

    def heal(self, name: str) -> None:
        (self.control / f"{name}.down").unlink(missing_ok=True)

    def kill(self) -> None:
        """Die at once, as a crashed process does."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer (or the error) came
    ok: bool
    detail: str  # the backend that answered, or what went wrong


class Traffic:
    """Clients sending GET / with `Host: SERVICE` through haproxy until stop()."""

    def __init__(self, port: int, service: str, *, keepalive: int = 2, fresh: int = 2, pause: float = 0.005) -> None:
        self.port, self.service, self.pause = port, service, pause
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(keep,), daemon=True)
                         for keep in [True] * keepalive + [False] * fresh]

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=30)

    def since(self, start: float, end: float | None = None) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.at >= start and (end is None or a.at < end)]

    def failures(self, start: float, end: float | None = None) -> list[Answer]:
        return [answer for answer in self.since(start, end) if not answer.ok]

    def served_by(self, start: float, end: float | None = None) -> Counter[str]:
        return Counter(answer.detail for answer in self.since(start, end) if answer.ok)

    def _client(self, keepalive: bool) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stopping.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/", headers={"Host": self.service,
                                                  **({} if keepalive else {"Connection": "close"})})
                response = conn.getresponse()
                body = response.read().decode(errors="replace")
                answer = Answer(time.monotonic(), response.status == 200,
                                body if response.status == 200 else f"HTTP {response.status}")
                if not keepalive or response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                answer = Answer(time.monotonic(), False, f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.answers.append(answer)
            self._stopping.wait(self.pause)
        if conn is not None:
            conn.close()
