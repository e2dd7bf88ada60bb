"""One place that makes boto3 clients: credentials chain, region, profile, endpoint, retries.

Clients are made once per (service, region) and shared; boto3 clients are thread-safe, the
session that makes them is not, hence the lock.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, cast
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import botocore.parsers
from botocore.config import Config as BotoConfig

from infra.aws.assume import Role, account_mismatch, assumed_session
from infra.aws.consistency import Patience
from infra.aws.early_pages import EarlyPages
from infra.aws.query_bodies import encode_once
from infra.aws.ratelimit import RequestRate
from infra.aws.xml_answers import parsing_session
from infra.errors import ProviderError
from infra.redact import shown_url
from infra.stopping import pause

RETRIES = BotoConfig(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10, read_timeout=60)
SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def is_local_endpoint(endpoint_url: str | None) -> bool:
    """A loopback endpoint is the sandbox (moto): it gets dummy credentials when none are set."""
    if not endpoint_url:
        return False
    host = urlparse(endpoint_url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class AwsClients:
    def __init__(self, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None, *,
                 role: Role | None = None, account: str | None = None, limit: RequestRate | None = None,
                 patience: Patience | None = None):
        """`role`: assumed from the credentials of `profile` (or the default chain); `account`: the
        account the credentials must be of (an environment's, in nodes.json), checked once; `limit`:
        the requests per second every client made here may send, together (shared with other
        AwsClients of the same run when they are given the same one); `patience`: how long to wait
        for what was just made to be visible (consistency.py)."""
        self.region, self.profile, self.endpoint_url = region, profile, endpoint_url
        self.role, self.account, self.limit = role, account, limit
        self.patience = patience or Patience()
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._reachable = False
        self.early = EarlyPages()

    def interrupt(self) -> None:
        """infra is stopped (Ctrl-C, SIGTERM): a wait for AWS to catch up ends now."""
        self.patience.interrupt()

    @property
    def is_sandbox(self) -> bool:
        return is_local_endpoint(self.endpoint_url)

    def session(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                self._session = self._open()
            return self._session

    def _open(self) -> boto3.session.Session:
        try:
            session = boto3.session.Session(profile_name=self.profile, botocore_session=encode_once(parsing_session()))
        except botocore.exceptions.ProfileNotFound:
            raise ProviderError(f"AWS profile {self.profile!r} is not in your AWS config; check --profile, "
                                f"AWS_PROFILE or the environment's aws.profile in nodes.json") from None
        if self.role is None and self.account is None:
            return session
        if self.is_sandbox and not self._reachable:
            self._check_sandbox()
        if self.role is not None:
            with aws_errors(f"assume role {self.role.arn}"):
                session = assumed_session(self._sts(session), self.role)
        if self.account is not None:
            with aws_errors("ask STS which account the credentials are of"):
                found = self._sts(session).get_caller_identity()["Account"]
            problem = account_mismatch(found, self.account)
            if problem:
                raise ProviderError(problem)
        return session

    def _sts(self, session: boto3.session.Session) -> Any:
        return session.client("sts", region_name=self.region or "us-east-1", endpoint_url=self.endpoint_url,
                              config=RETRIES, **self._sandbox_credentials(session))

    def _sandbox_credentials(self, session: boto3.session.Session) -> dict[str, str]:
        """moto's dummy credentials, on the sandbox when none are configured."""
        if self.is_sandbox and session.get_credentials() is None:
            return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return {}

    def client(self, service: str, region: str | None = None) -> Any:
        """The client of `service` in `region` (one per region: what it finds is of that region);
        without a region, the default one (`--region`, else us-east-1)."""
        region = region or self.region or "us-east-1"
        key = (service, region)
        made = self._clients.get(key)  # made once, then only read: no lock needed to find it
        if made is not None:
            return made
        session = self.session()
        with self._lock:
            if self.is_sandbox and not self._reachable:
                self._check_sandbox()
            if key not in self._clients:
                self._clients[key] = session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                                    config=RETRIES, **self._sandbox_credentials(session))
                if self.limit is not None:  # before every HTTP request, retries included
                    self._clients[key].meta.events.register("before-send", _waiting_for(self.limit))
            return self._clients[key]

    def start_scan(self, service: str, region: str, operation: str, key: str, **arguments: Any) -> None:
        """Page `operation` now, in the background, for the `scan` with the same arguments to read
        (early_pages.py). The client is made here: made in that thread while this one computes, it
        took seconds (botocore looks for its service files with a stat call each, and after each the
        thread waited up to 5 ms for this one to let go of the interpreter). What making it may say
        (no such profile, a stopped sandbox) is said where the scan is read, as it was before."""
        try:
            pages = partial(paginate, self.client(service, region), operation, key, **arguments)
        except ProviderError as exc:
            pages = partial(_raise, exc)
        self.early.start(_scan_key(service, region, operation, key, arguments), operation, pages)

    def scan(self, service: str, region: str, operation: str, key: str, **arguments: Any) -> Iterator[dict[str, Any]]:
        """Every item under `key` across all pages of `operation` of `service` in `region`: read from
        the scan started early with the same arguments when there is one (once), else paged now."""
        early = self.early.take(_scan_key(service, region, operation, key, arguments))
        return early.items() if early is not None else paginate(self.client(service, region), operation, key,
                                                                **arguments)

    def _check_sandbox(self) -> None:
        """A loopback endpoint that refuses connections is a stopped sandbox: say so at once, instead
        of after a minute of retries that cannot help."""
        address = urlparse(cast(str, self.endpoint_url))  # a sandbox has one
        try:
            socket.create_connection((address.hostname, address.port or (443 if address.scheme == "https" else 80)),
                                     timeout=5).close()
        except OSError:
            raise ProviderError(f"cannot reach AWS at {shown_url(self.endpoint_url or '')}: nothing listens there; is "
                                f"the sandbox running (infra sandbox status), or AWS_ENDPOINT_URL / --endpoint-url "
                                f"stale?") from None
        self._reachable = True

    def environment(self) -> dict[str, str]:
        """Environment for a subprocess (packer) that must reach the same AWS: never written to disk."""
        env = dict(os.environ)
        if self.role is not None:  # the role's credentials as they are now: fresh for an hour
            frozen = self.session().get_credentials().get_frozen_credentials()
            env.pop("AWS_PROFILE", None)
            env.update(AWS_ACCESS_KEY_ID=frozen.access_key, AWS_SECRET_ACCESS_KEY=frozen.secret_key,
                       AWS_SESSION_TOKEN=frozen.token or "")
        elif self.profile:
            env["AWS_PROFILE"] = self.profile
        if self.region:
            env["AWS_DEFAULT_REGION"] = self.region
        if self.is_sandbox and self.session().get_credentials() is None:
            env.update(SANDBOX_CREDENTIALS)
        return env


def _raise(error: Exception) -> Iterator[dict[str, Any]]:
    raise error


def _scan_key(service: str, region: str, operation: str, key: str, arguments: dict[str, Any]) -> tuple[str, ...]:
    return service, region, operation, key, json.dumps(arguments, sort_keys=True, default=str)


def _waiting_for(limit: RequestRate):
    def before_send(**_: Any) -> None:  # returns None: botocore then sends the request itself
        limit.wait()

    return before_send


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under `key` across all pages of `operation`."""
    with aws_errors(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])


def wait_until(client: Any, waiter: str, *, delay: float, attempts: int, **kwargs: Any) -> None:
    """boto3's `waiter` (e.g. "instance_running"), asked once per `delay` seconds at most `attempts`
    times, pausing between asks so that Ctrl-C or SIGTERM wakes it (botocore's own waiter sleeps in
    time.sleep, where a signal never reaches a worker thread: an apply stopped while a copied AMI
    became available would wait up to two hours). Raises WaiterError as boto3's waiter does."""
    ask = client.get_waiter(waiter)
    for attempt in range(1, attempts + 1):
        try:
            ask.wait(WaiterConfig={"Delay": 0, "MaxAttempts": 1}, **kwargs)
            return
        except botocore.exceptions.WaiterError as exc:
            if attempt == attempts or "Max attempts exceeded" not in str(exc):
                raise
        if not pause(delay):
            raise ProviderError(f"infra was stopped (Ctrl-C or SIGTERM) while waiting ({waiter.replace('_', ' ')})")


def error_code(exc: Any) -> str:
    """The code AWS answered a failed request with (a botocore ClientError's), "" when none."""
    return exc.response.get("Error", {}).get("Code", "")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore's exceptions into one-line ProviderErrors that say what to do."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise ProviderError("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                            "or use the local sandbox (infra sandbox start)") from None
    except botocore.exceptions.EndpointConnectionError as exc:
        where = shown_url(exc.kwargs.get("endpoint_url", "the endpoint"))
        raise ProviderError(f"cannot reach AWS at {where}: is the endpoint right (AWS_ENDPOINT_URL / "
                            f"--endpoint-url), or the sandbox running (infra sandbox status)?") from None
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise ProviderError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', exc)}") from None
    except botocore.parsers.ResponseParserError as exc:  # not a BotoCoreError; it carries the whole raw body
        reason = str(exc).split("),")[0] + ")" if ")," in str(exc) else "malformed"
        raise ProviderError(f"{what}: AWS sent an answer infra cannot read ({reason.removeprefix('Unable to parse ')}"
                            f"); if the endpoint is the sandbox or a proxy, a value sent may hold a character it "
                            f"cannot return; try again, or run with --debug for the answer") from None
    except botocore.exceptions.BotoCoreError as exc:  # one line: a parser error carries the whole response body
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ProviderError(f"{what}: {first}") from None
