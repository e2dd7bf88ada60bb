"""A stand-in for GitHub's REST API on 127.0.0.1, as much of it as the action uses: an issue's
comments listed (paginated), created, updated. It keeps the comments and records every request
(method, path, Authorization header, JSON body), so a test sees what the action sent."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Request:
    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeGitHub:
    repository: str = "acme/ops"
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> {id, body, issue}
    requests: list[Request] = field(default_factory=list)
    refuse: int | None = None  # answer every request with this status (403: a token that may not comment)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def on(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == issue]

    def answer(self, method: str, url: str, authorization: str, body: Any) -> tuple[int, Any]:
        parsed = urlparse(url)
        with self._lock:
            self.requests.append(Request(method, parsed.path, authorization, body))
            if self.refuse:
                return self.refuse, {"message": "Resource not accessible by integration"}
            prefix = f"/repos/{self.repository}/issues/"
            listing = re.fullmatch(re.escape(prefix) + r"(\d+)/comments", parsed.path)
            single = re.fullmatch(re.escape(prefix) + r"comments/(\d+)", parsed.path)
            if listing and method == "GET":
                query = parse_qs(parsed.query)
                per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
                found = self.on(int(listing[1]))
                return 200, found[(page - 1) * per_page:page * per_page]
            if listing and method == "POST":
                number = max(self.comments, default=100) + 1
                self.comments[number] = {"id": number, "issue": int(listing[1]), "body": body["body"],
                                         "html_url": f"https://github.test/{self.repository}/pull/"
                                                     f"{listing[1]}#issuecomment-{number}"}
                return 201, self.comments[number]
            if single and method == "PATCH" and int(single[1]) in self.comments:
                self.comments[int(single[1])]["body"] = body["body"]
                return 200, self.comments[int(single[1])]
            return 404, {"message": "Not Found"}


def _handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = github.answer(self.command, self.path, self.headers.get("Authorization", ""), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler
