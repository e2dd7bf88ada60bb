"""A service's status check, as `--check` gives it: an HTTP URL, or a command.

    --check http://127.0.0.1:8080/status          every service of the group
    --check api-workers=http://127.0.0.1:8080/status
    --check "cronq-workers=pgrep -x cronq"          a command: exit 0 passes

An HTTP check passes on a 2xx or 3xx answer within the timeout, as haproxy's httpchk does; it
goes straight to the address (no proxy from the environment) and follows no redirect. A
command is split like a shell would and run without one, as --exec is.
"""

from __future__ import annotations

import math
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from infra.errors import RegistryError
from infra.registry.command import check_command, run_command

SERVICE_PREFIX = re.compile(r"^([A-Za-z0-9_-]{1,200})=(.+)$", re.DOTALL)


@dataclass(frozen=True)
class CheckPolicy:
    """How often a check runs and how many results in a row turn a service up or down."""

    interval: float = 2.0
    timeout: float = 2.0
    rise: int = 2
    fall: int = 3

    @classmethod
    def of(cls, interval: float, timeout: float | None, rise: int, fall: int) -> CheckPolicy:
        """Checked option values; the timeout defaults to 2 s, or the interval when that is shorter."""
        if not math.isfinite(interval) or not 0.05 <= interval <= 3600:
            raise RegistryError(f"--check-interval {interval:g} is out of range: give 0.05 to 3600 seconds")
        if timeout is not None and (not math.isfinite(timeout) or not 0.01 <= timeout <= 3600):
            raise RegistryError(f"--check-timeout {timeout:g} is out of range: give 0.01 to 3600 seconds")
        for name, count in (("--rise", rise), ("--fall", fall)):
            if not 1 <= count <= 1000:
                raise RegistryError(f"{name} {count} is out of range: give a count of checks from 1 to 1000")
        return cls(interval, timeout if timeout is not None else min(2.0, interval), rise, fall)

    def describe(self) -> str:
        return f"every {self.interval:g}s, up after {self.rise} passes, down after {self.fall} failures"


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    detail: str  # "HTTP 200", "HTTP 500", "connection refused", "exit 1: ..."


@dataclass(frozen=True)
class HealthCheck:
    target: str

    @property
    def is_http(self) -> bool:
        return self.target.startswith(("http://", "https://"))

    def run(self, timeout: float) -> CheckOutcome:
        return _http(self.target, timeout) if self.is_http else _command(self.target, timeout)


def parse_checks(specs: Iterable[str], services: list[str], group: str) -> dict[str, HealthCheck]:
    """--check values -> the check of each service. A value without `SERVICE=` covers every service
    of the group that no `SERVICE=` value names; a service with no check at all is not gated."""
    shared: HealthCheck | None = None
    named: dict[str, HealthCheck] = {}
    for spec in specs:
        match = SERVICE_PREFIX.match(spec)
        service, target = (match.group(1), match.group(2)) if match else (None, spec)
        check = _checked(HealthCheck(target.strip()), spec)
        if service is None:
            if shared is not None:
                raise RegistryError(f"--check {spec!r}: a check for every service is given twice; "
                                    f"name the service: --check SERVICE=URL")
            shared = check
        elif service not in services:
            runs = ", ".join(services) or "no services"
            raise RegistryError(f"--check {spec!r}: group {group!r} runs no service {service!r} (it runs {runs})")
        elif service in named:
            raise RegistryError(f"--check {spec!r}: service {service!r} has a check already")
        else:
            named[service] = check
    if shared is not None:
        for service in services:
            named.setdefault(service, shared)
    return named


def _checked(check: HealthCheck, spec: str) -> HealthCheck:
    if not check.target:
        raise RegistryError(f"--check {spec!r} is empty: give a URL (http://127.0.0.1:8080/status) or a command")
    if check.is_http:
        parts = urlsplit(check.target)
        try:
            _ = parts.port  # raises ValueError when the port is not a number from 1 to 65535
        except ValueError:
            raise RegistryError(f"--check {spec!r}: the port is not a number from 1 to 65535") from None
        if not parts.hostname:
            raise RegistryError(f"--check {spec!r} is not a URL like http://127.0.0.1:8080/status")
    elif "://" in check.target.split()[0]:
        raise RegistryError(f"--check {spec!r}: only http:// and https:// URLs are checked; "
                            f"anything else is run as a command")
    else:
        check_command(check.target, option="--check")
    return check


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx is an answer: it passes, as in haproxy


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _http(url: str, timeout: float) -> CheckOutcome:
    try:
        with _OPENER.open(urllib.request.Request(url, headers={"User-Agent": "infra-check"}),
                          timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return CheckOutcome(False, _reason(exc, timeout))
    return CheckOutcome(200 <= status < 400, f"HTTP {status}")


def _reason(exc: BaseException, timeout: float) -> str:
    cause = getattr(exc, "reason", exc)
    if isinstance(cause, (socket.timeout, TimeoutError)) or "timed out" in str(cause):
        return f"no answer within {timeout:g}s"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return "connection reset"
    return str(cause).strip() or type(cause).__name__


def _command(cmd: str, timeout: float) -> CheckOutcome:
    try:
        result = run_command(cmd, option="--check", capture=True, timeout=timeout)
    except RegistryError as exc:  # the program went away since the agent started
        return CheckOutcome(False, str(exc))
    return CheckOutcome(result.ok, "exit 0" if result.ok else result.summary())
