"""What the state records and a plan's scan did not list: asked for by id before the plan calls it gone.

A plan observes by listing: one describe by tag filter per kind and region, paged. AWS's listings
can leave out what was made seconds ago for longer than a describe by its id or name does
(docs/aws-behaviour.md), and a plan made right after an apply would then plan "recorded in state
but gone; will be made again": a second ASG beside the first, or a create that fails. So what the
state records and a scan did not show is looked up once more by its id or name, all of it in one
batched describe per region (a warm plan where nothing is missing asks nothing more). What that
does not show either and the state says was made less than `consistency_timeout` ago (120 s by
default) is waited for, with backoff and a line at least every 10 s, until AWS shows it or it is
that old; Ctrl-C or SIGTERM ends the wait. What is still not shown then is taken for gone, and one
line says so: the plan makes it again, as for anything recorded and gone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions

from infra.aws.consistency import FIRST_DELAY, MAX_DELAY, PROGRESS_EVERY, TIMEOUT_ENV, NotVisible, Patience
from infra.aws.session import AwsClients, aws_errors, error_code


@dataclass(frozen=True)
class Unlisted:
    """A resource the state records that a scan did not show: its address, the id or name AWS is asked
    for, and when it was made (seconds since the epoch; None: not recorded)."""

    address: str
    ident: str
    made_at: float | None = None


def made_at_seconds(text: str | None) -> float | None:
    """The state's `made_at` (ISO 8601, UTC) as seconds since the epoch; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def looked_up(unlisted: list[Unlisted], describe: Callable[[list[str]], dict[str, Any]], *, patience: Patience,
              now: Callable[[], float] = time.time, say: Callable[[str], None] = say_on_stderr) -> dict[str, Any]:
    """What AWS shows of `unlisted` when asked by id: `describe(idents)` answers {ident: item} for
    those it shows. Those it does not show that were made less than `patience.timeout` ago are
    asked for again, with backoff, until shown or that old (see the module's docstring)."""
    found = describe([u.ident for u in unlisted])
    start, made_ago = patience.clock(), _ages(now())
    waiting = [u for u in unlisted if u.ident not in found and made_ago(u) < patience.timeout]
    said_at: float | None = None
    attempt = 0
    while waiting:
        elapsed = patience.clock() - start
        if patience.stopped():
            raise NotVisible(f"infra was stopped (Ctrl-C or SIGTERM) while waiting for AWS to show "
                             f"{_named(waiting)}, made by the last apply")
        young = [u for u in waiting if made_ago(u) + elapsed < patience.timeout]
        if not young:
            break
        if said_at is None or patience.clock() - said_at >= PROGRESS_EVERY:
            youngest = min(made_ago(u) for u in young) + elapsed
            say(f"waiting for AWS to show {_named(young)}: recorded as made {youngest:.0f}s ago, not listed nor "
                f"shown by id yet (AWS is eventually consistent); {elapsed:.0f}s, up to "
                f"{patience.timeout - youngest + elapsed:.0f}s")
            said_at = patience.clock()
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** attempt)
        attempt += 1
        left = patience.timeout - min(made_ago(u) for u in young) - elapsed
        next_line = said_at + PROGRESS_EVERY - patience.clock()
        patience.pause(max(0.0, min(patience.random.uniform(delay / 2, delay), left, next_line)))
        shown = describe([u.ident for u in young])
        found.update(shown)
        waiting = [u for u in young if u.ident not in shown]
    elapsed = patience.clock() - start
    for gone in waiting:
        say(f"{gone.address}: recorded as made {made_ago(gone) + elapsed:.0f}s ago, AWS still does not show "
            f"{gone.ident} (waited {elapsed:.0f}s): taken for gone, the plan makes it again (wait longer with "
            f"__settings__.consistency_timeout or {TIMEOUT_ENV})")
    return found


def _ages(wall: float) -> Callable[[Unlisted], float]:
    """How long ago each was made, as of `wall` (never made: infinitely long ago)."""
    return lambda u: float("inf") if u.made_at is None else max(0.0, wall - u.made_at)


def _named(unlisted: Iterable[Unlisted]) -> str:
    listed = [f"{u.address} ({u.ident})" for u in unlisted]
    return ", ".join(listed[:3]) + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")


@dataclass(frozen=True)
class Lookup:
    """How a provider asks for what it made by id or name, many in one describe: `operation` of
    `service` with `parameter` (at most `batch` a call), the answer's list under `key`, each item's
    id or name under `item_id`; the id is the recorded output `output`. `gone`: the error codes with
    which AWS refuses a whole call when one of those asked for does not exist; then each is asked
    for alone. `within`: each of `key`'s items holds the items under this (DescribeInstances'
    reservations hold instances)."""

    service: str
    operation: str
    parameter: str
    key: str
    item_id: str
    output: str
    batch: int
    gone: tuple[str, ...] = ()
    within: str = ""

    def describe(self, clients: AwsClients, region: str, idents: list[str]) -> dict[str, Any]:
        client = clients.client(self.service, region)
        found: dict[str, Any] = {}
        for first in range(0, len(idents), self.batch):
            found.update(self._described(client, idents[first:first + self.batch]))
        return found

    def _described(self, client: Any, idents: list[str]) -> dict[str, Any]:
        with aws_errors(f"{self.operation} {', '.join(idents[:3])}"):
            try:
                return {item[self.item_id]: item for page in client.get_paginator(self.operation).paginate(
                    **{self.parameter: idents}) for item in self._items(page)}
            except botocore.exceptions.ClientError as error:
                if error_code(error) not in self.gone:
                    raise
        if len(idents) == 1:
            return {}
        found: dict[str, Any] = {}
        for ident in idents:
            found.update(self._described(client, [ident]))
        return found

    def _items(self, page: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for item in page.get(self.key, []):
            yield from item.get(self.within, []) if self.within else (item,)
