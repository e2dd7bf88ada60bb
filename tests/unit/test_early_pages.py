"""Scans started early (infra/aws/early_pages.py): read as they arrive, once, with their errors where
they happen, and stopped when nobody takes them. Pages come from a generator the test steps through."""

from __future__ import annotations

import threading

import pytest

from infra.aws.early_pages import EarlyPages
from infra.errors import ProviderError

WAIT = 10  # seconds a step may take on a busy machine before the test fails instead of hanging


class Pages:
    """A scan's pages, each given out only when the test allows it (`allow`)."""

    def __init__(self, pages: list[list[str]], error: Exception | None = None) -> None:
        self.pages, self.error = pages, error
        self.asked = 0  # pages requested so far
        self.allowed = threading.Semaphore(0)
        self.closed = threading.Event()

    def allow(self, pages: int = 1) -> None:
        for _ in range(pages):
            self.allowed.release()

    def __call__(self):
        try:
            for page in self.pages:
                assert self.allowed.acquire(timeout=WAIT), "the test did not allow the next page"
                self.asked += 1
                yield from page
            if self.error is not None:
                assert self.allowed.acquire(timeout=WAIT)
                raise self.error
        finally:
            self.closed.set()


def test_a_reader_gets_the_pages_paged_so_far_then_each_as_it_comes():
    pages = Pages([["a", "b"], ["c"], ["d"]])
    early = EarlyPages()
    early.start("asgs", "describe", pages)
    pages.allow()
    scan = early.take("asgs")
    assert scan is not None
    items = scan.items()
    assert [next(items), next(items)] == ["a", "b"]  # the first page, while the second is not asked yet
    assert pages.asked == 1
    pages.allow(2)
    assert list(items) == ["c", "d"]
    assert pages.asked == 3


def test_a_scan_is_taken_once_and_only_by_its_own_key():
    early = EarlyPages()
    pages = Pages([["a"]])
    early.start(("ec2", "us-east-1"), "describe", pages)
    early.start(("ec2", "us-east-1"), "describe", Pages([["other"]]))  # already started: not a second scan
    pages.allow()
    assert early.take(("ec2", "eu-west-1")) is None
    scan = early.take(("ec2", "us-east-1"))
    assert scan is not None and list(scan.items()) == ["a"]
    assert early.take(("ec2", "us-east-1")) is None  # a second describe pages for itself


def test_an_error_of_the_scan_is_raised_where_it_is_read_after_what_came_before_it():
    pages = Pages([["a"]], error=ProviderError("describe_auto_scaling_groups: Throttling: Rate exceeded"))
    early = EarlyPages()
    early.start("asgs", "describe", pages)
    pages.allow(2)
    scan = early.take("asgs")
    assert scan is not None
    items = scan.items()
    assert next(items) == "a"
    with pytest.raises(ProviderError, match="Throttling: Rate exceeded"):
        next(items)


def test_a_scan_nobody_took_stops_at_its_next_page():
    pages = Pages([["a"], ["b"], ["c"]])
    early = EarlyPages()
    early.start("asgs", "describe", pages)
    pages.allow()
    early.stop()
    pages.allow(2)
    assert pages.closed.wait(WAIT)
    assert pages.asked <= 2  # the page under way when it was stopped, at most: never the third
    assert early.take("asgs") is None


def test_nothing_started_is_nothing_to_take_or_stop():
    early = EarlyPages()
    assert early.take("asgs") is None
    early.stop()


def test_what_making_a_scan_s_client_says_is_said_where_the_scan_is_read(tmp_path, monkeypatch):
    from infra.aws.session import AwsClients

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # no profiles at all
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    clients = AwsClients(region="us-east-1", profile="nope")
    clients.start_scan("autoscaling", "us-east-1", "describe_auto_scaling_groups", "AutoScalingGroups")  # no error yet
    with pytest.raises(ProviderError, match="AWS profile 'nope' is not in your AWS config"):
        list(clients.scan("autoscaling", "us-east-1", "describe_auto_scaling_groups", "AutoScalingGroups"))
