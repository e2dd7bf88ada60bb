"""Is the AWS endpoint a packer build talks to still there? A probe while packer runs.

When the endpoint dies mid-build (the sandbox stopped, a LocalStack container gone), packer does
not say so: its AWS SDK retries each call for about ten minutes before the build fails. So while a
build runs, a thread tries a TCP connection to the endpoint every few seconds; after a few failures
in a row it calls `gone` with the reason, and the build is stopped (packer.py) within a minute.
A TCP connection is the cheapest question that tells "nothing listens there" from "busy".
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from urllib.parse import urlparse

PROBE_EVERY = 5.0  # seconds between two probes
PROBE_TIMEOUT = 3.0  # seconds a connection may take before the probe counts as failed
FAILURES = 3  # probes in a row that must fail before the endpoint is called gone (about 15 s)


def probe(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when something accepts a TCP connection at host:port; else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        return exc.strerror or str(exc)


class EndpointWatch:
    """A daemon thread probing `endpoint_url` until stopped; `gone(reason)` once it stopped answering."""

    def __init__(self, endpoint_url: str, gone: Callable[[str], None], *, every: float = PROBE_EVERY,
                 failures: int = FAILURES) -> None:
        parsed = urlparse(endpoint_url)
        self.endpoint_url = endpoint_url
        self.host = parsed.hostname or ""
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.gone, self.every, self.failures = gone, every, failures
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="endpoint-watch", daemon=True)

    def __enter__(self) -> EndpointWatch:
        if self.host:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()

    def _run(self) -> None:
        failed = 0
        while not self._stopped.wait(self.every):
            reason = probe(self.host, self.port)
            failed = failed + 1 if reason else 0
            if failed >= self.failures and not self._stopped.is_set():
                self.gone(f"{reason} ({failed} tries {self.every:g}s apart)")
                return
