"""The hostile sandbox: moto with AWS's bad days switched on (`infra sandbox start --hostile`).

moto answers at once, never throttles, never lags and finds every target healthy the moment it
is registered; AWS does none of that. Layered over moto's WSGI application, this makes the
sandbox answer the way AWS does on a busy day, each behaviour a knob (`Knobs`, defaults close to
AWS): request latency; a share of requests throttled (the error botocore and the AWS SDKs
retry) and of 5xx; launch templates, instances and AMIs invisible by id and to other services
for a while after they are made; ASGs, launch templates, AMIs and instances left out of listings
(describes by filter, or of everything) for longer; instances pending, then their targets `initial`, for a
while; a share of the launches in one zone failing first (InsufficientInstanceCapacity); AMIs
pending after create and copy (lag.py keeps that clock). Decisions come from `random.Random(seed)`: the
same seed gives the same faults to the same sequence of requests, so a failure can be replayed.

Only the query-protocol services infra's fleet uses are touched (EC2, Auto Scaling, ELBv2); a
request that is refused never reaches moto, so a retry never makes anything twice. S3, STS, IAM
and CloudWatch answer as moto does.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl

from infra.config.locate import unknown
from infra.errors import InfraError
from infra.sandbox.lag import Refusal, World

SERVICES = frozenset({"ec2", "autoscaling", "elasticloadbalancing"})
STATS_PATH = "/moto-api/hostile"  # GET: the requests seen and the faults given, by code (JSON)
CREDENTIAL = re.compile(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/")


@dataclass(frozen=True)
class Knobs:
    """Each knob with its default, close to what AWS does (docs/aws-behaviour.md says why)."""

    seed: int = 0  # decides every fault: the same seed replays the same faults
    latency: float = 0.05  # seconds each request takes, on average (a region answers in tens of ms)
    throttle: float = 0.03  # share of requests throttled (RequestLimitExceeded, Throttling)
    errors: float = 0.005  # share of requests answered 500/503 (InternalError, ServiceUnavailable)
    lag: float = 5.0  # seconds what was made stays invisible by id and to other services
    scan_lag: float = 10.0  # seconds an ASG, launch template, AMI or instance just made is left out of listings
    pending: float = 30.0  # seconds an instance is pending before it runs (InService)
    initial: float = 60.0  # seconds a target stays `initial` after that (interval x healthy threshold)
    ami_pending: float = 60.0  # seconds an AMI is pending after CreateImage or CopyImage
    failed_launches: float = 0.2  # share of launches in the failing zone that fail first
    launch_retry: float = 20.0  # seconds until Auto Scaling launches a failed one again
    failing_zone: str = "a"  # the zone of each region whose name ends with this

    @classmethod
    def parse(cls, settings: Iterable[str], seed: int | None = None) -> Knobs:
        """Knobs from `--knob name=value` settings; each bad one is one line naming it."""
        knobs = cls() if seed is None else cls(seed=seed)
        types = {f.name: f.type for f in fields(cls)}
        names = [n for n in types if n != "seed"]
        for setting in settings:
            name, _, raw = setting.partition("=")
            name = name.strip().replace("-", "_")
            if name not in names:
                raise InfraError(f"--knob {setting!r}: {unknown(f'knob {name!r}', name, names)} (give name=value; "
                                 f"--hostile-seed sets the seed)")
            if not raw:
                raise InfraError(f"--knob {setting!r}: give name=value")
            knobs = replace(knobs, **{name: _value(name, raw, str(types[name]))})
        return knobs

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Knobs:
        return cls(**json.loads(text))

    def said(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in asdict(self).items())


def _value(name: str, raw: str, kind: str) -> Any:
    if kind == "str":
        return raw
    try:
        value = float(raw)
    except ValueError:
        raise InfraError(f"--knob {name}={raw}: give a number") from None
    share = name in ("throttle", "errors", "failed_launches")
    if not (0 <= value <= 1 if share else 0 <= value <= 3600):
        raise InfraError(f"--knob {name}={raw}: give " + ("a share from 0 to 1" if share else "seconds, 0 to 3600"))
    return value


@dataclass(frozen=True)
class _Request:
    service: str
    region: str
    action: str
    params: dict[str, str]


class Hostile:
    """A WSGI middleware over moto's application that behaves the way `knobs` say."""

    def __init__(self, app: Callable[..., Any], knobs: Knobs, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.app, self.knobs, self.sleep = app, knobs, sleep
        self.random = random.Random(knobs.seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()  # requests, and each fault by its code
        self.world = World(lag=knobs.lag, pending=knobs.pending, initial=knobs.initial,
                           ami_pending=knobs.ami_pending, failed_launches=knobs.failed_launches,
                           launch_retry=knobs.launch_retry, failing_zone=knobs.failing_zone,
                           random=self.random, scan_lag=knobs.scan_lag, clock=clock)

    def __getattr__(self, name: str) -> Any:  # moto's server sets and reads attributes of its app
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/reset"):
            self.world.clear()
        if path == STATS_PATH:  # what the layer did so far: a test (or a user) sees its faults happened
            return _json(start_response, self._counts())
        request = _request(environ)
        if request is None:
            return self.app(environ, start_response)
        with self.lock:
            latency = self.knobs.latency * self.random.uniform(0.5, 1.5)
            fault = self._fault(request)
            self.counts["requests"] += 1
        if latency:
            self.sleep(latency)
        refusal = fault or self.world.refused(request.service, request.action, request.params)
        if refusal is not None:
            self._count(refusal.code)
            return _error(start_response, request.service, *_status_of(refusal))
        status, headers, body = _called(self.app, environ)
        if status.startswith("200"):
            answered = self.world.rewritten(request.service, request.action, request.params, body)
            if answered != body:
                self._count("rewritten")
            body = answered
        start_response(status, [(k, v) for k, v in headers if k.lower() != "content-length"]
                       + [("Content-Length", str(len(body)))])
        return [body]

    def _count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def _counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def _fault(self, request: _Request) -> Refusal | None:
        """Throttled, or a 5xx, as often as the knobs say (decided before moto sees the request)."""
        roll = self.random.random()
        if roll < self.knobs.throttle:
            if request.service == "ec2":
                return Refusal("RequestLimitExceeded", "Request limit exceeded.")
            return Refusal("Throttling", "Rate exceeded")
        if roll < self.knobs.throttle + self.knobs.errors:
            return Refusal("InternalError" if request.service == "ec2" else "InternalFailure",
                           "We encountered an internal error. Please try again.")
        return None


STATUS = {"RequestLimitExceeded": 503, "InternalError": 500, "InternalFailure": 500}


def _status_of(refusal: Refusal) -> tuple[int, Refusal]:
    return STATUS.get(refusal.code, 400), refusal


def _request(environ: dict[str, Any]) -> _Request | None:
    """The AWS request, when it is one of a service this layer touches (its body is kept readable)."""
    found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found is None or found.group(2) not in SERVICES:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    params.update(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    return _Request(found.group(2), found.group(1), params.get("Action", ""), params)


def _called(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    said: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        said["status"], said["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return said["status"], said["headers"], body


def _json(start_response: Callable[..., Any], document: dict[str, int]) -> list[bytes]:
    data = json.dumps(document, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _error(start_response: Callable[..., Any], service: str, status: int, refusal: Refusal) -> list[bytes]:
    """An error in the service's own XML, as botocore (and packer's Go SDK) read it."""
    request_id = str(uuid.uuid4())
    message = refusal.message.replace("&", "&amp;").replace("<", "&lt;")
    if service == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{refusal.code}</Code>'
                f'<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>')
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f'<ErrorResponse><Error><Type>{kind}</Type><Code>{refusal.code}</Code><Message>{message}</Message>'
                f'</Error><RequestId>{request_id}</RequestId></ErrorResponse>')
    data = body.encode()
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]
