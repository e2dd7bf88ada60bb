"""etcd, through its v3 JSON gateway (etcd3gw): the only module that knows etcd or etcd3gw.

The registry asks for a few things only: read a prefix with its revision, write several keys
in one transaction, delete a key unless it changed, manage a lease, and stream the events of a
prefix. Every failure leaves this module as a `RegistryError`; an etcd that cannot be reached
is an `EtcdUnreachable`, the one kind a long-running watcher waits out instead of giving up on.

etcd3gw's own watcher swallows a dropped connection and blocks forever, so the event stream is
read here, over the same gateway endpoint, with a read timeout, and a lost stream is reported.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from infra.errors import RegistryError
from infra.redact import shown_url

DEFAULT_URL = "http://127.0.0.1:2379"


def _libraries() -> tuple[Any, Any, Any, Any]:
    """etcd3gw, requests, etcd3gw's exceptions and urllib3's read timeout, imported when etcd is
    first used: most commands never reach etcd, and importing them took 70 ms of every start."""
    import etcd3gw
    import requests
    from etcd3gw import exceptions
    from urllib3.exceptions import ReadTimeoutError

    return etcd3gw, requests, exceptions, ReadTimeoutError
API_PATH = "/v3/"  # etcd >= 3.4; 3.3 served /v3beta/


class EtcdUnreachable(RegistryError):
    """etcd did not answer: not running, restarting, or the wrong --etcd URL."""


class WatchIdle(EtcdUnreachable):
    """A watch stream saw nothing for its idle timeout: maybe a quiet registry, maybe a dead link."""


class LeaseNotFound(RegistryError):
    """The lease expired (or was revoked) before it could be used."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    lease: int
    mod_revision: int


@dataclass(frozen=True)
class WatchEvent:
    kind: Literal["put", "delete"]
    key: str
    value: bytes
    revision: int


@dataclass(frozen=True)
class Put:
    key: str
    value: str
    lease: int = 0


class Etcd:
    """One etcd endpoint. Not shared between threads: give each thread its own."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.shown = shown_url(self.url)  # in messages: never the user info (a password) of the URL
        parts = urlsplit(self.url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.path not in ("", "/"):
            raise RegistryError(f"--etcd {shown_url(url)!r} is not an etcd URL like {DEFAULT_URL}")
        self.timeout = timeout
        etcd3gw = _libraries()[0]
        self._client = etcd3gw.client(host=parts.hostname, port=port or 2379, protocol=parts.scheme,
                                      timeout=timeout, api_path=API_PATH)

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under `prefix`, and the revision they were read at."""
        with self._calls():
            result = self._client.post(self._client.get_url("/kv/range"),
                                       json={"key": _b64(prefix), "range_end": _b64(_prefix_end(prefix))})
            kvs = [KeyValue(key=_unb64(kv["key"]).decode(), value=_unb64(kv.get("value", "")),
                            lease=int(kv.get("lease", 0)), mod_revision=int(kv.get("mod_revision", 0)))
                   for kv in result.get("kvs", [])]
            return kvs, int(result["header"]["revision"])

    def put_all(self, puts: Sequence[Put]) -> int:
        """Write every key in one transaction (one revision, one burst for watchers); its revision."""
        ops = [{"request_put": {"key": _b64(put.key), "value": _b64(put.value),
                                **({"lease": put.lease} if put.lease else {})}}
               for put in puts]
        return self._txn([], ops)[1]

    def delete_unless_changed(self, key: str, mod_revision: int) -> bool:
        """Delete `key` only if nobody wrote it since `mod_revision`; False when someone did."""
        compare = [{"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": mod_revision}]
        return self._txn(compare, [{"request_delete_range": {"key": _b64(key)}}])[0]

    def grant_lease(self, ttl: int) -> int:
        with self._calls():
            return self._client.lease(ttl).id

    def refresh_lease(self, lease: int) -> int:
        """Renew the lease; its TTL in seconds, or -1 when it no longer exists."""
        with self._calls():
            result = self._client.post(self._client.get_url("/lease/keepalive"), json={"ID": lease})
        return int(result.get("result", {}).get("TTL", -1))

    def lease_ttl(self, lease: int) -> tuple[int, int]:
        """(seconds left, seconds granted); (-1, 0) when the lease no longer exists."""
        with self._calls():
            result = self._client.post(self._client.get_url("/kv/lease/timetolive"), json={"ID": lease})
        return int(result.get("TTL", -1)), int(result.get("grantedTTL", 0))

    def watch(self, prefix: str, start_revision: int, idle_timeout: float = 60.0) -> WatchStream:
        return WatchStream(self, prefix, start_revision, idle_timeout)

    def _txn(self, compare: list[dict[str, Any]], success: list[dict[str, Any]]) -> tuple[bool, int]:
        with self._calls():
            result = self._client.transaction({"compare": compare, "success": success, "failure": []})
            return bool(result.get("succeeded", False)), int(result["header"]["revision"])

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Turn etcd3gw's and requests' exceptions into one-line RegistryErrors."""
        _, requests, etcd_exceptions, _ = _libraries()
        try:
            yield
        except (etcd_exceptions.ConnectionFailedError, etcd_exceptions.ConnectionTimeoutError) as exc:
            raise self.unreachable(exc) from None
        except etcd_exceptions.Etcd3Exception as exc:
            message = _gateway_message(exc.detail_text)
            if message is None:
                reason = " ".join(str(arg) for arg in exc.args) or "an error"
                raise RegistryError(f"{self.shown} answered {reason!r}, not like etcd; is it etcd's client "
                                    f"URL (etcd 3.4 or newer)?") from None
            if "lease not found" in message:
                raise LeaseNotFound(f"etcd at {self.shown}: {message}") from None
            raise RegistryError(f"etcd at {self.shown} refused the request: {message}") from None
        except requests.RequestException as exc:
            raise self.unreachable(exc) from None
        except (KeyError, ValueError) as exc:
            raise RegistryError(f"etcd at {self.shown} answered something unexpected ({exc}); "
                                f"is it etcd 3.4 or newer?") from None

    def unreachable(self, exc: BaseException | str) -> EtcdUnreachable:
        text = str(getattr(exc, "detail_text", None) or exc)
        return EtcdUnreachable(f"cannot reach etcd at {self.shown}: {self._reason(exc, text)} "
                               f"(is etcd running? set --etcd URL or INFRA_ETCD)")

    def _reason(self, exc: BaseException | str, text: str) -> str:
        gateway = _gateway_message(text)  # etcd answered, but is stopping: "etcdserver: server stopped"
        if gateway is not None:
            return gateway
        if isinstance(exc, str):
            return exc
        _, requests, etcd_exceptions, _ = _libraries()
        if isinstance(exc, (etcd_exceptions.ConnectionTimeoutError, requests.Timeout)) or "timed out" in text:
            return f"no answer within {self.timeout:g}s"
        if "refused" in text:
            return "connection refused"
        if "resolve" in text or "Name or service not known" in text or "nodename nor servname" in text:
            return "unknown host"
        return "connection failed"


class WatchStream:
    """The events under a prefix from `start_revision` on, as batches (one per etcd revision).

    Iterating raises `EtcdUnreachable` when the connection drops or etcd cancels the watch (its
    start revision was compacted), and `WatchIdle` when etcd is silent for `idle_timeout`
    seconds, because a half-open connection looks exactly like a quiet registry. Either way the
    caller re-reads the registry and watches again; nothing is lost, as the re-read sees the
    current state.
    """

    def __init__(self, etcd: Etcd, prefix: str, start_revision: int, idle_timeout: float) -> None:
        self._etcd, self._idle_timeout = etcd, idle_timeout
        _, requests, _, self._read_timeout = _libraries()
        self._session = requests.Session()
        body: dict[str, Any] = {"create_request": {"key": _b64(prefix), "range_end": _b64(_prefix_end(prefix)),
                                                   "start_revision": start_revision}}
        try:
            self._response = self._session.post(etcd.url + API_PATH + "watch", json=body, stream=True,
                                                 timeout=(etcd.timeout, idle_timeout))
        except requests.RequestException as exc:
            self._session.close()
            raise etcd.unreachable(exc) from None
        if self._response.status_code != 200:
            self.close()
            raise etcd.unreachable(f"watch refused with HTTP {self._response.status_code}")

    def __iter__(self) -> Iterator[list[WatchEvent]]:
        try:
            # chunk_size=None: hand over each message as it arrives, not once 512 bytes are in.
            for line in self._response.iter_lines(chunk_size=None):  # type: ignore[call-overload]
                if not line.strip():
                    continue
                message = json.loads(line)
                result = message.get("result")
                if result is None:
                    detail = _gateway_message(line) or line[:200].decode(errors="replace")
                    raise self._etcd.unreachable(f"watch failed: {detail}")
                if result.get("canceled"):
                    raise self._etcd.unreachable(f"etcd cancelled the watch (compacted at revision "
                                                 f"{result.get('compact_revision', '?')})")
                events = [_event(event) for event in result.get("events", [])]
                if events:
                    yield events
        except RegistryError:
            raise
        except _libraries()[1].ConnectionError as exc:
            if exc.args and isinstance(exc.args[0], self._read_timeout):
                raise WatchIdle(f"no event for {self._idle_timeout:g}s") from None
            raise self._etcd.unreachable(exc) from None
        except Exception as exc:  # a dropped or closed connection surfaces as many exception types
            raise self._etcd.unreachable(exc) from None
        raise self._etcd.unreachable("etcd closed the watch stream")

    def close(self) -> None:
        """Stop the stream, also when another thread is blocked reading it.

        Closing the response alone would wait for that read (up to `idle_timeout`), so the
        socket is shut down first, which makes the read return at once.
        """
        try:
            fd = self._response.raw._fp.fileno()  # http.client's response: the one place the socket shows
            with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError, ValueError):
            pass  # already closed
        try:
            self._response.close()
        finally:
            self._session.close()


def _event(raw: dict[str, Any]) -> WatchEvent:
    kv = raw["kv"]
    return WatchEvent(kind="delete" if raw.get("type") == "DELETE" else "put", key=_unb64(kv["key"]).decode(),
                      value=_unb64(kv.get("value", "")), revision=int(kv.get("mod_revision", 0)))


def _gateway_message(detail: Any) -> str | None:
    """The message of a gateway error body ({"error": ..., "message": ..., "code": ...}); None if not one."""
    try:
        data = json.loads(detail)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    found = data.get("message") or data.get("error")
    if isinstance(found, dict):  # a watch stream's {"error": {"message": ..., "grpc_code": ...}}
        found = found.get("message")
    return str(found) if found else None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _prefix_end(prefix: str) -> str:
    """The first key after every key that starts with `prefix` (etcd's range_end for a prefix)."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return raw.decode()
