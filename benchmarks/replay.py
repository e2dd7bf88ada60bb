"""Recorded AWS answers, served from memory: a warm plan measured without moto's own time.

moto answers a warm 10,000-group plan's describes with seconds of its own CPU, on the same two
cores as infra, and slower than AWS would: a figure taken against it is more moto than infra. So
the benchmark records moto's answers once (`Recorder`, a loopback proxy in front of moto that
keeps each answer by its request) and then serves them from memory (`Replay`, an http.server on
127.0.0.1), each request found by its key: the HTTP method and path, the region it was signed
for, its X-Amz-Target, and its parameters (the form body sorted, or the body itself). A request
never recorded is answered 400 and counted in `misses` (a figure with misses is not valid).
`delay` holds every answer that long first, as a real region's API takes tens of milliseconds.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

Key = tuple[str, str, str, str, str]
Answer = tuple[int, list[tuple[str, str]], bytes]
_REGION = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/")
_HOP = {"transfer-encoding", "connection", "content-length", "date", "server"}


def request_key(method: str, path: str, headers, body: bytes) -> Key:
    """What identifies a request: the same describe (page, filters, region) has the same key."""
    region = _REGION.search(headers.get("Authorization") or "")
    kind = headers.get("Content-Type") or ""
    params = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))) \
        if "x-www-form-urlencoded" in kind else body.decode(errors="replace")
    return method, path, region[1] if region else "", headers.get("X-Amz-Target") or "", params


def action_of(key: Key) -> str:
    if key[3]:
        return key[3].split(".")[-1]
    found = re.search(r"(?:^|&)Action=([^&]+)", key[4])
    return found[1] if found else key[1].split("?")[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class _Endpoint:
    """A loopback HTTP endpoint whose handler calls `answer(key)`."""

    def __init__(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # An answer is written in two sends (its head, then its body): with Nagle's algorithm the
            # body waited for the client's delayed acknowledgement of the head, 40 ms on Linux, so
            # every request answered from here took 44 ms (2 ms with TCP_NODELAY).
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = endpoint.answer(self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.lock = threading.Lock()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, method: str, path: str, headers, body: bytes) -> Answer:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Recorder(_Endpoint):
    """Passes every request on to moto, keeping its answer (the last one, for a request made twice)."""

    delay = 0.0  # (never applied: a recording is not measured)

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.answers: dict[Key, Answer] = {}
        self.counts: Counter[str] = Counter()
        super().__init__()

    def reset(self) -> Counter[str]:
        with self.lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def answer(self, method: str, path: str, headers, body: bytes) -> Answer:
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
        try:
            upstream.request(method, path, body=body, headers={k: v for k, v in headers.items()
                                                               if k.lower() != "connection"})
            response = upstream.getresponse()
            found: Answer = (response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP],
                             response.read())
        finally:
            upstream.close()
        key = request_key(method, path, headers, body)
        with self.lock:
            self.answers[key] = found
            self.counts[action_of(key)] += 1
        return found


class Replay(_Endpoint):
    """Serves recorded answers from memory; `delay` seconds first (each request's thread alone)."""

    delay = 0.0

    def __init__(self, answers: dict[Key, Answer]) -> None:
        self.answers = dict(answers)
        self.counts: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        super().__init__()

    def answer(self, method: str, path: str, headers, body: bytes) -> Answer:
        key = request_key(method, path, headers, body)
        if self.delay:
            time.sleep(self.delay)
        found = self.answers.get(key)
        with self.lock:
            (self.counts if found else self.misses)[action_of(key)] += 1
        if found is None:
            return 400, [("Content-Type", "text/xml")], (
                b"<Response><Errors><Error><Code>NotRecorded</Code><Message>the replay holds no answer to this "
                b"request</Message></Error></Errors><RequestID>replay</RequestID></Response>")
        return found

    def reset(self) -> Counter[str]:
        """The requests answered since the last reset (as CountingProxy.reset; misses are kept)."""
        with self.lock:
            counts, self.counts = self.counts, Counter()
        return counts
