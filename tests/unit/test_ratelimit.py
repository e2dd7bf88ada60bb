"""The request rate limit: turns one interval apart, whichever thread asks, on a fake clock."""

import threading
from itertools import pairwise

import pytest

from infra.aws.ratelimit import RequestRate, request_rate
from infra.errors import InfraError


class Clock:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_requests_are_spaced_one_interval_apart():
    clock = Clock()
    limit = RequestRate(4, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(9):
        limit.wait()
        sent.append(clock())
    assert [round(b - a, 6) for a, b in pairwise(sent)] == [0.25] * 8


def test_a_quiet_spell_gives_no_burst_afterwards():
    clock = Clock()
    limit = RequestRate(2, clock=clock, sleep=clock.sleep)
    limit.wait()
    clock.now += 60  # a minute without requests
    assert limit.wait() == 0  # the first goes at once...
    assert limit.wait() == pytest.approx(0.5)  # ...the next waits its turn: nothing was saved up


def test_threads_share_one_limit_and_take_turns_in_order():
    clock = Clock()
    limit = RequestRate(10, clock=clock, sleep=lambda seconds: None)  # turns are handed out, not slept
    turns: list[float] = []
    guard = threading.Lock()

    def ask() -> None:
        for _ in range(25):
            waited = limit.wait()
            with guard:
                turns.append(clock() + waited)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(turns) == 200
    assert sorted(round(t - 100, 6) for t in turns) == [round(i * 0.1, 6) for i in range(200)]


@pytest.mark.parametrize("rate", [0, -1, float("nan")])
def test_a_rate_that_is_not_positive_is_refused(rate):
    with pytest.raises(InfraError, match="from 0.1 \\(one request every 10 seconds\\) to 10000"):
        RequestRate(rate)


@pytest.mark.parametrize("rate", [1e-9, 0.09, 10_001])
def test_a_rate_below_one_request_every_ten_seconds_or_absurdly_high_is_refused(rate):
    with pytest.raises(InfraError, match=f"max_request_rate {rate:g}: give the AWS requests per second, from 0.1"):
        RequestRate(rate)
    assert RequestRate(0.1).interval == 10.0


def test_a_request_held_back_goes_at_once_when_infra_is_stopped():
    from infra import stopping

    limit = RequestRate(0.1)  # one request every ten seconds
    limit.wait()
    waiting = threading.Thread(target=limit.wait)  # a worker thread: no signal handler reaches it
    try:
        waiting.start()
        stopping.request_stop()  # what the CLI's Ctrl-C and SIGTERM handlers do
        waiting.join(timeout=60)
        assert not waiting.is_alive()
    finally:
        stopping.reset()


def test_no_rate_is_no_limit():
    assert request_rate(None) is None
    assert request_rate(0.5).interval == 2.0
