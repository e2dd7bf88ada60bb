"""A loopback HTTP proxy in front of the moto server: counts AWS requests, and injects faults.

Requests are counted at the endpoint, not inside infra, so the figure includes every retry and
every page a paginator fetched; `busiest_second` says how many arrived in the busiest second.
`fail_next` answers the next requests with an error (throttling, a 5xx) to show that infra
retries them. Used by the failure tests, the request rate tests and the benchmarks.
"""

from __future__ import annotations

import bisect
import http.client
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus

ACTION = re.compile(rb"(?:^|&)Action=([^&]+)")


class CountingProxy:
    """`delay` (seconds, 0 unless set) is added to every request, as a real region's API takes tens of
    milliseconds to answer; requests in flight at once wait at the same time, not in turn."""

    delay = 0.0

    def __init__(self, upstream_port: int) -> None:
        self.counts: Counter[str] = Counter()
        self.arrivals: list[float] = []  # when each request arrived (time.monotonic())
        self._faults: list[tuple[int, str, bytes]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # An answer is written in two sends (its head, then its body): with Nagle's algorithm the
            # body waited for the client's delayed acknowledgement of the head (40 ms on Linux), which
            # made every request through the proxy 40 ms slower than moto answered it.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.count(self.headers, body, self.path)
                if proxy.delay:
                    time.sleep(proxy.delay)  # this request's thread alone
                fault = proxy.next_fault()
                if fault is not None:
                    status, content_type, payload = fault
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, headers, body: bytes, path: str) -> None:
        target = headers.get("X-Amz-Target")
        if target:
            action = target.split(".")[-1]
        else:
            named = ACTION.search(body)  # the first Action of the form body, as parse_qs would find it
            action = unquote_plus(named[1].decode(errors="replace")) if named else path.split("?")[0]
        with self._lock:
            self.counts[action] += 1
            self.arrivals.append(time.monotonic())

    def fail_next(self, times: int, status: int = 503, code: str = "ServiceUnavailable") -> None:
        """Answer the next `times` requests with an AWS-style error instead of forwarding them."""
        payload = (f"<Response><Errors><Error><Code>{code}</Code><Message>injected by the test proxy</Message>"
                   f"</Error></Errors><RequestID>test</RequestID></Response>").encode()
        with self._lock:
            self._faults.extend([(status, "text/xml", payload)] * times)

    def garble_next(self, times: int) -> None:
        """Answer the next `times` requests with 200 and XML no parser takes (as moto did for a value
        holding a NUL)."""
        with self._lock:
            self._faults.extend([(200, "text/xml", b"<?xml version='1.0'?><Response>\x00<Reserv")] * times)

    def next_fault(self) -> tuple[int, str, bytes] | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def reset(self) -> Counter[str]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
            self.arrivals = []
        return counts

    def busiest_second(self) -> int:
        """The most requests that arrived within any one second (a sliding window, [t, t + 1))."""
        with self._lock:
            arrivals = sorted(self.arrivals)
        return max((bisect.bisect_left(arrivals, start + 1.0) - i for i, start in enumerate(arrivals)), default=0)

    def close(self) -> None:
        self.server.shutdown()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # an apply with --parallelism 50 and its packer builds connect in bursts
